"""uvicorn's httptools protocol with a bounded request head: refused with 431 before it is buffered whole.

httptools buffers a header value until it ends, and llhttp bounds neither its size nor the number of fields,
so one request with a 64 MiB header would be concatenated and parsed on the event loop every probe shares.
"""

from __future__ import annotations

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeadTooLarge(Exception):
    """Raised from a parser callback: llhttp stops at once, and feed_data raises with this as the context."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """The request line and header fields together at most `max_head_bytes`, at most `max_headers` fields.

    Two counts, each a lower bound of the head's true size, so no request within the limits is refused: the
    bytes of the URL and of each complete field (exact), and the bytes of every read wholly inside one head
    (what httptools holds of a field still arriving). A head is refused at most one read past the limit.
    """

    max_head_bytes = 16384
    max_headers = 100

    _head_bytes = 0  # URL and complete fields of the current request head
    _read_bytes = 0  # reads wholly inside the current request head

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._read_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        if self._head_bytes > self.max_head_bytes:
            raise HeadTooLarge
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if self._head_bytes > self.max_head_bytes or len(self.headers) >= self.max_headers:
            raise HeadTooLarge
        super().on_header(name, value)

    def data_received(self, data: bytes) -> None:
        # uvicorn's own data_received, with the limit's error told apart from malformed requests (400).
        self._unset_keepalive_if_required()
        scope = self.scope
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, HeadTooLarge):
                self.refuse()
                return
            raise
        except httptools.HttpParserError:
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if scope is not None and self.scope is scope and "method" not in scope:  # the whole read was inside a head
            self._read_bytes += len(data)
            if self._read_bytes > self.max_head_bytes:
                self.refuse()

    def refuse(self) -> None:
        """431 and close (RFC 6585 §5); a connection still writing an earlier response just gets the close."""
        if self.cycle is None or self.cycle.response_complete:
            body = f"request header fields too large: at most {self.max_head_bytes} bytes, {self.max_headers} fields\n"
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: text/plain; charset=utf-8\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body.encode())
            )
        self.transport.close()


def bounded_protocol(max_head_bytes: int, max_headers: int) -> type[BoundedHttpToolsProtocol]:
    """The protocol class to give uvicorn as `http=`, with these limits."""
    return type(
        "BoundedHttpToolsProtocol",
        (BoundedHttpToolsProtocol,),
        {"max_head_bytes": max_head_bytes, "max_headers": max_headers},
    )
