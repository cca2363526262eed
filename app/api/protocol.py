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

    Checked twice, each time against a lower bound of the head's size, so no request within the limits is
    refused: when the head is complete (its URL and fields, counted exactly), and after every read that stays
    wholly inside one head (what httptools holds of a head still arriving). So a head is refused at most one
    read (256 KiB) past the limit, before the rest is sent, and the per-request cost is one count per request.
    """

    max_head_bytes = 16384
    max_headers = 100

    _read_bytes = 0  # reads wholly inside the current request head

    def on_headers_complete(self) -> None:
        headers = self.headers
        if len(headers) > self.max_headers:
            raise HeadTooLarge
        size = len(self.url) + 4 * len(headers)  # ": " and CRLF per field
        for name, value in headers:
            size += len(name) + len(value)
        if size > self.max_head_bytes:
            raise HeadTooLarge
        super().on_headers_complete()

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
        current = self.scope
        if current is not None and "method" not in current:  # a head still arriving
            if current is not scope:  # it began in this read
                self._read_bytes = 0
            else:
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
