"""Target text made printable: every control character, undecodable byte and lone surrogate, not just examples."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from app.text import from_bytes, printable, quote, xml_safe

C0 = [chr(c) for c in range(0x20)]
C1 = [chr(c) for c in range(0x80, 0xA0)]
SURROGATES = [chr(c) for c in range(0xD800, 0xE000)]
OTHERS = ["\x7f", "\u2028", "\u2029", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))]
UNSAFE = C0 + C1 + SURROGATES + OTHERS


def test_every_unsafe_character_becomes_a_visible_escape() -> None:
    for char in UNSAFE:
        shown = printable(f"a{char}b")
        assert shown.startswith("a\\") and shown.endswith("b"), repr(char)
        assert shown.isprintable() and shown.isascii(), repr(char)
        shown.encode("utf-8")  # no lone surrogate left
    assert printable("line\nnext\r\ttab\x1b[31m\x07") == "line\\nnext\\r\\ttab\\x1b[31m\\x07"
    assert printable("\x85\u2028\u202e\ud800") == "\\x85\\u2028\\u202e\\ud800"


def test_undecodable_bytes_read_as_the_bytes() -> None:
    assert from_bytes(b"nginx\xe9") == "nginx\\xe9"
    assert from_bytes(bytes(range(0x80, 0x100))) == "".join(f"\\x{b:02x}" for b in range(0x80, 0xD0)) + "…"  # 80 shown
    assert from_bytes("café".encode()) == "café"  # UTF-8 that decodes stays as it is
    assert printable(b"\xff\xfe".decode("utf-8", "surrogateescape")) == "\\xff\\xfe"


def test_printable_text_is_kept_and_length_is_bounded() -> None:
    assert printable("nginx/1.25 (Ubuntu) — ok ✓") == "nginx/1.25 (Ubuntu) — ok ✓"
    assert printable("x" * 100, 10) == "x" * 10 + "…"
    assert quote("y" * 100) == '"' + "y" * 80 + '…"'
    assert quote('say "hi"\\') == '"say \\"hi\\"\\\\"'
    assert quote("a\x1bb") == '"a\\x1bb"'


def test_xml_safe_text_is_well_formed_in_attributes_and_text() -> None:
    everything = "".join(UNSAFE) + "\ufffe\uffff<&>\"'"
    element = ET.Element("failure", message=xml_safe(everything))
    element.text = xml_safe(everything)
    document = ET.tostring(element, encoding="unicode")
    parsed = ET.fromstring(document)  # expat refuses any character outside XML 1.0 Char
    assert parsed.text is not None and "<&>" in parsed.text
    assert xml_safe("tab\tnew\nline") == "tab\tnew\nline"


def test_printable_text_survives_any_json_encoder() -> None:
    text = printable("".join(UNSAFE))
    assert json.loads(json.dumps(text, ensure_ascii=False).encode("utf-8")) == text
