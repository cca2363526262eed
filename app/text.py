"""Text a target sent, made safe to print: every header, body, certificate field or error text a check quotes.

Targets may send any bytes. Here they become printable text that no log line, terminal, JSON or XML reader chokes on.
"""

from __future__ import annotations

import re

SHOWN = 80  # characters of a target's text quoted in an output
MESSAGE_LIMIT = 300  # characters of an error message a server sent, quoted in an output

# Control characters (C0, DEL, C1), lone surrogates (undecodable bytes, as `surrogateescape` decodes them), the
# Unicode line and paragraph separators, and the bidirectional overrides that reorder what a terminal shows.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": r"\n", "\r": r"\r", "\t": r"\t"}
# XML 1.0 `Char`: tab, newline, carriage return, U+0020-U+D7FF, U+E000-U+FFFD, U+10000-U+10FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that did not decode (surrogateescape): show the byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str, limit: int | None = None) -> str:
    """`text` with every control character, undecodable byte and lone surrogate written as an escape (`\\n`,
    `\\x1b`, `\\xe9`, `\\ud800`): one line of printable text. Cut to `limit` characters (then `…`) when given."""
    if limit is not None and len(text) > limit:
        text = text[:limit]
        return _UNSAFE.sub(_escape, text) + "…"
    return _UNSAFE.sub(_escape, text)


def quote(text: str, limit: int = SHOWN) -> str:
    """A target's text quoted into a sentence: `"nginx/1.25\\xe9"`, printable and at most `limit` characters."""
    cut = len(text) > limit
    body = (text[:limit] if cut else text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + printable(body) + ("…" if cut else "") + '"'


def from_bytes(data: bytes, limit: int | None = SHOWN) -> str:
    """Bytes a target sent, as printable text: UTF-8 where they decode, `\\xNN` for each byte that does not."""
    return printable(data.decode("utf-8", "surrogateescape"), limit)


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 cannot carry (any control character but tab and newlines, lone
    surrogates, U+FFFE/U+FFFF), each written as an escape: the document stays well-formed whatever the text."""
    return _NOT_XML.sub(_escape, text)


def encodable(text: str) -> str:
    """`text` that encodes as UTF-8: lone surrogates written as escapes, everything else kept."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return re.sub("[\ud800-\udfff]", _escape, text)
    return text
