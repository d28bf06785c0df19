"""Taking the host out of an entry: a bare name, a URL, or ``user@host``; spotting IP literals.

Pure string work, no I/O. Every function returns either a host or a human reason, never raises.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["IP_LITERAL_REASON", "host_of", "looks_like_ipv4"]

IP_LITERAL_REASON = "IP address literal, not a domain name"

# Characters that mean "there is more than a bare name here": a scheme, port, path, userinfo...
_SPECIAL = re.compile(r"[/:@?#\[\]]")
# "scheme://" or a scheme-relative "//".
_URL_PREFIX = re.compile(r"(?:[a-zA-Z][a-zA-Z0-9+.\-]*:)?//")
# Where the authority part of a URL (or of "example.com/path") ends.
_AUTHORITY_END = re.compile(r"[/?#]")
# What inet_aton() accepts: 1 to 4 parts, decimal, octal or hex ("127.1", "0x7f.0.0.1").
_IPV4_LIKE = re.compile(r"(?:(?:0x[0-9a-f]*|[0-9]+)\.){0,3}(?:0x[0-9a-f]*|[0-9]+)")


def looks_like_ipv4(host: str) -> bool:
    """Whether a (lowercase, trailing-dot-free) host is an IPv4 address in any inet_aton form."""
    return _IPV4_LIKE.fullmatch(host) is not None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%", 1)[0])  # tolerate an IPv6 zone ("fe80::1%eth0")
    except ValueError:
        return False
    return True


def host_of(entry: str) -> tuple[str, None] | tuple[None, str]:
    """The host part of a trimmed entry: ``(host, None)``, or ``(None, reason)``.

    Accepts ``example.com``, ``example.com/path``, ``example.com:8080``,
    ``https://user:pw@Example.com:8443/p?q#f``, ``//example.com`` and ``user@example.com``.
    The host comes back as written (case and any trailing dot kept); the caller normalizes it.
    """
    if _SPECIAL.search(entry) is None:
        return entry, None
    prefix = _URL_PREFIX.match(entry)
    rest = entry[prefix.end() :] if prefix else entry
    end = _AUTHORITY_END.search(rest)
    authority = rest[: end.start()] if end else rest
    host = authority.rpartition("@")[2]  # drop any userinfo
    if not host:
        return None, "no host name in URL"
    if host.startswith("["):
        inside = host[1:].partition("]")[0]
        if _is_ip(inside):
            return None, IP_LITERAL_REASON
        return None, "malformed bracketed host (IPv6 literal?) in URL"
    colons = host.count(":")
    if colons == 1:
        host, _, port = host.partition(":")
        if port and not (port.isascii() and port.isdigit()):
            return None, f"invalid port {port[:20]!r} in URL"
        if not host:
            return None, "no host name in URL"
    elif colons > 1:
        if _is_ip(host):
            return None, IP_LITERAL_REASON
        return None, "invalid character ':' in host"
    if "]" in host:
        return None, "invalid character ']' in host"
    return host, None
