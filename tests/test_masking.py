"""Masking URL passwords: the same answers as the one-regex rule it replaced, in time linear in the text."""

from __future__ import annotations

import random
import re
import time

from app.masking import MASK, Scrubber, mask_url_passwords
from tests.conftest import within

# The rule as one regex: the reference for what is masked (quadratic on long runs of letters, so only short texts).
REFERENCE = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@", re.I)


def reference(text: str) -> str:
    return REFERENCE.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)


def test_examples() -> None:
    assert mask_url_passwords("redis://app:s3cret@cache:6379/0") == "redis://app:***@cache:6379/0"
    assert mask_url_passwords("rediss://:s3cret@cache") == "rediss://:***@cache"  # no user
    assert mask_url_passwords("see http://a:b@x and clickhouse+native://u:p@y/db") == (
        "see http://a:***@x and clickhouse+native://u:***@y/db"
    )
    assert mask_url_passwords("9http://u:p@h") == "9http://u:***@h"  # the scheme starts at its first letter
    assert mask_url_passwords("http://host:8080/path") == "http://host:8080/path"  # a port, no @: nothing
    assert mask_url_passwords("://u:p@h") == "://u:p@h"  # no scheme
    assert Scrubber(["tok3n"]).text("Bearer tok3n at redis://u:p@h") == "Bearer *** at redis://u:***@h"


def test_the_same_as_the_reference_on_random_text() -> None:
    rng = random.Random(7)
    alphabet = "ab1+.-:/@ xZ\t"
    for _ in range(50_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 32)))
        assert mask_url_passwords(text) == reference(text), repr(text)


def test_a_long_run_of_letters_costs_one_pass() -> None:
    """A target's text of a million letters before a URL: the reference regex would read the run once per letter
    (about 5 x 10^11 steps, hours); one pass takes milliseconds, so a bound of seconds tells them apart."""
    text = "a" * 1_000_000 + " redis://u:p@h " + "b1" * 500_000
    started = time.process_time()
    assert mask_url_passwords(text).endswith("redis://u:***@h " + "b1" * 500_000)
    assert time.process_time() - started < within(1.0)
