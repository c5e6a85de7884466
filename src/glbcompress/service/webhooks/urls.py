"""Which callback URLs a job may name. A webhook is a request our server makes on a user's
behalf, so it must not become a way into the server's own network (SSRF): only http(s) URLs with
a host name, no credentials, and — unless ``settings.webhook_allow_private`` — only hosts whose
every address is public (checked when the job is submitted and again before each attempt, since
DNS answers can change)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

MAX_URL = 2048


class BadCallbackUrl(ValueError):
    """The message is meant for the user."""


def check_url(url: str) -> str:
    """The URL if its form is acceptable (raises BadCallbackUrl); addresses are checked apart."""
    if len(url) > MAX_URL:
        raise BadCallbackUrl(f"callback_url is longer than {MAX_URL} characters.")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise BadCallbackUrl("callback_url contains spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadCallbackUrl("callback_url is not a valid URL.") from None
    if parts.scheme not in ("http", "https"):
        raise BadCallbackUrl("callback_url must be an http:// or https:// URL.")
    if not parts.hostname:
        raise BadCallbackUrl("callback_url has no host name.")
    if parts.username is not None or parts.password is not None:
        raise BadCallbackUrl("callback_url must not contain a user name or password.")
    if port == 0:
        raise BadCallbackUrl("callback_url has an invalid port.")
    return url


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_address(url: str, allow_private: bool) -> str:
    """The address to connect to for the URL's host (the first one it resolves to). Raises
    BadCallbackUrl if it resolves to nothing, or (unless allowed) if any of its addresses is
    loopback, private, link-local or otherwise not public. The sender connects to exactly this
    address, so a second DNS answer cannot point the request somewhere else (DNS rebinding)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise BadCallbackUrl(f"callback_url's host '{host}' cannot be resolved.") from None
    if not infos:
        raise BadCallbackUrl(f"callback_url's host '{host}' cannot be resolved.")
    if not allow_private and not all(_public(str(info[4][0])) for info in infos):
        raise BadCallbackUrl(
            f"callback_url's host '{host}' is on a loopback or private network, which this server "
            "does not send webhooks to."
        )
    return str(infos[0][4][0])
