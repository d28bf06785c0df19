"""SSRF guard: which addresses a fetch may connect to.

A batch's domains come from users, and a domain's DNS (or a redirect) can point anywhere: at the
worker's own loopback, the office LAN, or the cloud metadata service that hands out credentials.
So before any connection is made, the address is classified here and refused with the code
``blocked_address`` unless it is a public unicast address.

The tables are explicit rather than delegated to ``ipaddress.is_global``: the stdlib's answers for
IPv4-mapped and other IPv6 forms changed between patch releases, and a security check must not
depend on the interpreter's patch level. Addresses that embed an IPv4 address (IPv4-mapped,
IPv4-compatible, 6to4, NAT64) are judged by the address they embed, so ``::ffff:127.0.0.1`` is as
loopback as ``127.0.0.1``.

Exemptions: ``allow_private_addresses`` turns the guard off entirely (test webs, intranets). An
address named explicitly in ``resolve_overrides`` is trusted for the host names its pattern
matches, because the operator asked for exactly that mapping (like curl's ``--resolve``); the same
address reached any other way (an IP-literal redirect, a DNS answer) is still refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import urlsplit

from domainbatch.errors import DomainProcessingError, InputError

IPAddress = IPv4Address | IPv6Address

# Known cloud metadata endpoints get their own reason: it is the address an attacker wants most.
_METADATA: dict[IPAddress, str] = {
    IPv4Address("169.254.169.254"): "cloud metadata service",
    IPv4Address("169.254.170.2"): "cloud metadata service (ECS task credentials)",
    IPv4Address("169.254.170.23"): "cloud metadata service (EKS pod identity)",
    IPv4Address("100.100.100.200"): "cloud metadata service (Alibaba)",
    # Azure's WireServer sits on a public address, so only an explicit entry catches it.
    IPv4Address("168.63.129.16"): "cloud platform service (Azure WireServer)",
    IPv6Address("fd00:ec2::254"): "cloud metadata service (AWS IPv6)",
    IPv6Address("fd00:ec2::23"): "cloud metadata service (EKS pod identity IPv6)",
}

_V4: list[tuple[IPv4Network, str]] = [
    (IPv4Network("0.0.0.0/8"), "unspecified ('this network')"),
    (IPv4Network("10.0.0.0/8"), "private (RFC 1918)"),
    (IPv4Network("100.64.0.0/10"), "shared address space (CGNAT, RFC 6598)"),
    (IPv4Network("127.0.0.0/8"), "loopback"),
    (IPv4Network("169.254.0.0/16"), "link-local"),
    (IPv4Network("172.16.0.0/12"), "private (RFC 1918)"),
    (IPv4Network("192.0.0.0/24"), "reserved (IETF protocol assignments)"),
    (IPv4Network("192.0.2.0/24"), "reserved (documentation)"),
    (IPv4Network("192.88.99.0/24"), "reserved (6to4 relay anycast)"),
    (IPv4Network("192.168.0.0/16"), "private (RFC 1918)"),
    (IPv4Network("198.18.0.0/15"), "reserved (benchmarking)"),
    (IPv4Network("198.51.100.0/24"), "reserved (documentation)"),
    (IPv4Network("203.0.113.0/24"), "reserved (documentation)"),
    (IPv4Network("224.0.0.0/4"), "multicast"),
    (IPv4Network("255.255.255.255/32"), "broadcast"),
    (IPv4Network("240.0.0.0/4"), "reserved (class E)"),
]

_V6: list[tuple[IPv6Network, str]] = [
    (IPv6Network("::/128"), "unspecified"),
    (IPv6Network("::1/128"), "loopback"),
    (IPv6Network("64:ff9b:1::/48"), "local-use NAT64 (RFC 8215)"),
    (IPv6Network("100::/64"), "reserved (discard-only)"),
    # Includes Teredo (2001::/32), whose embedded addresses are obfuscated: refuse it whole.
    (IPv6Network("2001::/23"), "reserved (IETF protocol assignments)"),
    (IPv6Network("2001:db8::/32"), "reserved (documentation)"),
    (IPv6Network("3fff::/20"), "reserved (documentation)"),
    (IPv6Network("fc00::/7"), "private (unique local)"),
    (IPv6Network("fe80::/10"), "link-local"),
    (IPv6Network("fec0::/10"), "site-local (deprecated)"),
    (IPv6Network("ff00::/8"), "multicast"),
]

# IANA allocates global unicast only from 2000::/3; everything else is reserved or special.
_V6_GLOBAL_UNICAST = IPv6Network("2000::/3")
_V4_MAPPED = IPv6Network("::ffff:0:0/96")
_V4_COMPATIBLE = IPv6Network("::/96")
_NAT64 = IPv6Network("64:ff9b::/96")


def parse_address(text: str) -> IPAddress | None:
    """An IP address from a socket address or URL host (brackets and zone id stripped)."""
    text = text.strip().strip("[]")
    # The zone (``fe80::1%eth0``) only picks an interface; the address itself is what we judge.
    text = text.split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def blocked_reason(address: str | IPAddress) -> str | None:
    """Why ``address`` must not be connected to, or ``None`` when it is public unicast."""
    if isinstance(address, str):
        return _text_reason(address)
    return _reason(address)


@lru_cache(maxsize=8192)
def _text_reason(address: str) -> str | None:
    # Each fetch checks the same few addresses several times (lookup, connect, peer).
    addr = parse_address(address)
    return "not an IP address" if addr is None else _reason(addr)


def _reason(addr: IPAddress) -> str | None:
    if addr in _METADATA:
        return _METADATA[addr]
    if isinstance(addr, IPv4Address):
        return _classify_v4(addr)
    return _classify_v6(addr)


def _classify_v4(addr: IPv4Address) -> str | None:
    for network, reason in _V4:
        if addr in network:
            return reason
    return None


def _classify_v6(addr: IPv6Address) -> str | None:
    embedded = _embedded_v4(addr)
    if embedded is not None:
        form, v4 = embedded
        inner = _reason(v4)
        return f"{inner} ({form} {v4})" if inner else None
    if addr in _V4_COMPATIBLE and addr > IPv6Address("::1"):
        # ``::a.b.c.d`` is deprecated (RFC 4291) and stacks treat it unpredictably: refuse it.
        return "reserved (deprecated IPv4-compatible)"
    for network, reason in _V6:
        if addr in network:
            return reason
    if addr not in _V6_GLOBAL_UNICAST:
        return "reserved (outside global unicast 2000::/3)"
    return None


def _embedded_v4(addr: IPv6Address) -> tuple[str, IPv4Address] | None:
    if addr in _V4_MAPPED:
        return "IPv4-mapped", IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr in _NAT64:
        return "NAT64", IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr.sixtofour is not None:
        return "6to4", addr.sixtofour
    return None


class AddressGuard:
    """Decides, per connection, whether an address may be used.

    ``trusted_for(host)`` returns the addresses the operator mapped ``host`` to explicitly
    (``resolve_overrides``); those are allowed for that host only.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        trusted_for: Callable[[str], Iterable[str] | None] | None = None,
    ) -> None:
        self.allow_private = allow_private
        self._trusted_for = trusted_for

    def reason(self, address: str, host: str | None = None) -> str | None:
        """Why connecting to ``address`` (for ``host``) is refused; ``None`` when allowed."""
        if self.allow_private:
            return None
        reason = blocked_reason(address)
        if reason is None:
            return None
        if host is not None and self._trusted_for is not None:
            parsed = parse_address(address)
            trusted = self._trusted_for(host) or ()
            if parsed is not None and any(parse_address(t) == parsed for t in trusted):
                return None
        return reason

    def check(self, address: str, host: str | None = None) -> None:
        """Raise ``blocked_address`` when ``address`` may not be connected to."""
        reason = self.reason(address, host)
        if reason is not None:
            raise DomainProcessingError("blocked_address", blocked_message(address, host, reason))

    def screen(self, host: str, addresses: list[str]) -> list[str]:
        """``addresses`` of ``host`` minus the refused ones; ``AddressesRefused`` when none is
        left. The one filter for DNS answers, whoever connects (homepage fetch, webhooks)."""
        allowed: list[str] = []
        refused: list[tuple[str, str]] = []
        for address in addresses:
            reason = self.reason(address, host)
            if reason is None:
                allowed.append(address)
            else:
                refused.append((address, reason))
        if refused and not allowed:
            raise AddressesRefused(host, refused)
        return allowed


class AddressesRefused(DomainProcessingError):
    """Every address of ``host`` is refused; ``refused`` holds each with its reason."""

    def __init__(self, host: str, refused: list[tuple[str, str]]) -> None:
        address, reason = refused[0]
        super().__init__("blocked_address", blocked_message(address, host, reason))
        self.host = host
        self.refused = refused


def blocked_message(address: str, host: str | None, reason: str) -> str:
    target = f"{host} -> {address}" if host and host != address else address
    return (
        f"refused to connect to {target}: {reason} address "
        "(SSRF guard; set allow_private_addresses to permit)"
    )


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse, at submission, a webhook URL that can never be delivered to (an IP literal
    is judged here; a name, after resolution, at each delivery)."""
    if any(ord(char) < 32 or ord(char) == 127 for char in url):
        raise InputError("the webhook url contains control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError("the webhook url must be an absolute http:// or https:// URL")
    address = parse_address(parts.hostname)
    if address is not None and not allow_private:
        reason = blocked_reason(address)
        if reason:
            raise InputError(
                f"the webhook url points at a {reason} address; "
                "set allow_private_addresses to permit"
            )
