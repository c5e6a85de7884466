"""One webhook POST, to the address the URL was checked against (``urls.check_address``), never to
whatever a second DNS lookup answers: the TCP connection goes to that address, while the Host
header and, for https, the TLS server name and certificate check use the URL's host name.

>>> status = post(url, address, body, headers, timeout=10)    # raises OSError when unreachable

The standard library's http.client does it (no redirects are followed; the answer's body is read
only up to a small limit and thrown away).
"""

from __future__ import annotations

import http.client
import socket
import ssl
from urllib.parse import urlsplit

MAX_ANSWER_BYTES = 64 * 1024


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext):
        super().__init__(host, port, timeout=timeout, context=context)
        self.address = address
        self.tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


def post(url: str, address: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST body to url through address; the receiver's HTTP status."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _PinnedHTTPS(host, parts.port or 443, address, timeout, ssl.create_default_context())
    else:
        connection = _PinnedHTTP(host, parts.port or 80, address, timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_ANSWER_BYTES)
        return response.status
    finally:
        connection.close()
