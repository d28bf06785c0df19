"""The SSRF guard, table-driven over address forms (no network)."""

from __future__ import annotations

import socket

import pytest

from domainbatch.errors import DomainProcessingError
from domainbatch.fetching.connect import (
    AiohttpResolver,
    BlockedAddressError,
    UnresolvedHostError,
    current_host,
)
from domainbatch.fetching.guard import AddressGuard, blocked_reason, parse_address
from domainbatch.fetching.lookup import GuardedResolver
from domainbatch.fetching.resolver import Resolver

# (address, fragment of the reason); every one of these must be refused.
BLOCKED = [
    # IPv4 special ranges
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.254", "CGNAT"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.0.1", "link-local"),
    ("169.254.169.254", "cloud metadata"),
    ("169.254.170.2", "cloud metadata"),
    ("100.100.100.200", "cloud metadata"),
    ("168.63.129.16", "Azure"),
    ("192.0.0.8", "IETF"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("192.88.99.1", "6to4 relay"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    # IPv6 special ranges
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("[::1]", "loopback"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("febf::1", "link-local"),
    ("fc00::1", "unique local"),
    ("fd12:3456:789a::1", "unique local"),
    ("fd00:ec2::254", "cloud metadata"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("ff05::1:3", "multicast"),
    ("100::1", "discard"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("2001::1", "IETF"),  # Teredo
    ("2001:2::1", "IETF"),  # benchmarking
    ("5f00::1", "outside global unicast"),
    ("4000::1", "outside global unicast"),
    ("64:ff9b:1::a00:1", "local-use NAT64"),
    # IPv6 forms embedding a blocked IPv4 address
    ("::ffff:127.0.0.1", "IPv4-mapped 127.0.0.1"),
    ("::ffff:7f00:1", "IPv4-mapped 127.0.0.1"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:169.254.169.254", "cloud metadata"),
    ("::ffff:0.0.0.0", "unspecified"),
    ("::127.0.0.1", "IPv4-compatible"),
    ("::8.8.8.8", "IPv4-compatible"),
    ("2002:7f00:1::1", "6to4 127.0.0.1"),
    ("2002:a9fe:a9fe::", "6to4 169.254.169.254"),
    ("2002:c0a8:0101::1", "6to4 192.168.1.1"),
    ("64:ff9b::7f00:1", "NAT64 127.0.0.1"),
    ("64:ff9b::a9fe:a9fe", "NAT64 169.254.169.254"),
    ("64:ff9b::10.1.2.3", "NAT64 10.1.2.3"),
    # not an address at all
    ("example.com", "not an IP address"),
    ("", "not an IP address"),
]

ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above CGNAT
    "172.15.255.255",  # just below 172.16/12
    "172.32.0.1",  # just above
    "169.253.255.255",
    "223.255.255.255",
    "2606:4700:4700::1111",
    "2a00:1450:4001:82a::200e",
    "[2001:4860:4860::8888]",
    "::ffff:8.8.8.8",  # mapped public address
    "2002:0808:0808::1",  # 6to4 of a public address
    "64:ff9b::808:808",  # NAT64 of a public address
]


@pytest.mark.parametrize(("address", "fragment"), BLOCKED)
def test_blocked_addresses(address: str, fragment: str) -> None:
    reason = blocked_reason(address)
    assert reason is not None, f"{address} must be blocked"
    assert fragment.lower() in reason.lower()


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(address) is None


def test_parse_address_strips_brackets_and_zone() -> None:
    assert str(parse_address("[fe80::1%eth0]")) == "fe80::1"
    assert parse_address("not-an-ip") is None
    # Legacy numeric forms are not addresses here (and aiohttp refuses them as hosts).
    assert parse_address("2130706433") is None


@pytest.mark.parametrize("address", [a for a, _ in BLOCKED if parse_address(a) is not None])
def test_allow_private_turns_the_guard_off(address: str) -> None:
    guard = AddressGuard(allow_private=True)
    assert guard.reason(address) is None
    guard.check(address)  # does not raise


def test_guard_check_raises_blocked_address_with_a_human_message() -> None:
    guard = AddressGuard()
    with pytest.raises(DomainProcessingError) as info:
        guard.check("169.254.169.254", "evil.example")
    assert info.value.code == "blocked_address"
    assert info.value.transient is False
    assert "evil.example -> 169.254.169.254" in info.value.message
    assert "cloud metadata" in info.value.message


def _override_guard() -> AddressGuard:
    resolver = Resolver(overrides={"*.test": "127.0.0.1", "staging.corp": "10.0.0.5 10.0.0.6"})
    return AddressGuard(trusted_for=resolver.override_for)


@pytest.mark.parametrize(
    ("address", "host", "allowed"),
    [
        # The operator mapped these names to these exact addresses: allowed for them.
        ("127.0.0.1", "plain.test", True),
        ("127.0.0.1", "www.shop.test", True),
        ("10.0.0.6", "staging.corp", True),
        # The same address for a name the override does not cover: refused.
        ("127.0.0.1", "example.com", False),
        ("127.0.0.1", "127.0.0.1", False),  # an IP-literal redirect
        ("127.0.0.1", None, False),  # no host known: fail closed
        # A covered name, but not the address the operator gave: refused.
        ("127.0.0.2", "plain.test", False),
        ("169.254.169.254", "plain.test", False),
        ("::ffff:127.0.0.1", "other.example", False),
        ("10.0.0.7", "staging.corp", False),
        # Public addresses need no trust.
        ("8.8.8.8", "example.com", True),
    ],
)
def test_override_targets_are_trusted_only_for_their_names(
    address: str, host: str | None, allowed: bool
) -> None:
    assert (_override_guard().reason(address, host) is None) is allowed


def test_resolver_drops_blocked_addresses_and_refuses_when_none_is_left() -> None:
    guarded = GuardedResolver(Resolver(), AddressGuard())
    assert guarded.screen("x.example", ["10.0.0.1", "8.8.8.8"]) == ["8.8.8.8"]
    with pytest.raises(DomainProcessingError) as info:
        guarded.screen("x.example", ["10.0.0.1", "127.0.0.1"])
    assert info.value.code == "blocked_address"
    assert "x.example -> 10.0.0.1" in info.value.message


async def test_aiohttp_resolver_applies_overrides_and_the_guard() -> None:
    guarded = AiohttpResolver(
        GuardedResolver(
            Resolver(overrides={"*.test": "127.0.0.1", "bad.example": "169.254.169.254"}),
            AddressGuard(
                trusted_for=lambda host: ["127.0.0.1"] if host.endswith(".test") else None
            ),
        )
    )
    results = await guarded.resolve("plain.test", 443, socket.AF_UNSPEC)
    assert [(r["host"], r["port"], r["hostname"]) for r in results] == [
        ("127.0.0.1", 443, "plain.test")
    ]
    with pytest.raises(OSError):  # no IPv6 address for an AF_INET6 connector
        await guarded.resolve("plain.test", 443, socket.AF_INET6)
    # An override to metadata is not trusted by this guard: refused (an OSError for aiohttp,
    # carrying the documented error).
    with pytest.raises(UnresolvedHostError) as refused:
        await guarded.resolve("bad.example", 80, socket.AF_UNSPEC)
    assert refused.value.error.code == "blocked_address"


@pytest.mark.parametrize(
    ("sockaddr", "host", "blocked"),
    [
        (("127.0.0.1", 80), "plain.test", False),  # override target, for its name
        (("127.0.0.1", 80), "127.0.0.1", True),  # IP-literal host
        (("127.0.0.1", 80), None, True),  # unknown host: fail closed
        (("169.254.169.254", 80), "plain.test", True),
        (("::ffff:127.0.0.1", 80, 0, 0), "other.example", True),
    ],
)
def test_socket_factory_checks_the_address_being_connected(
    sockaddr: tuple[object, ...], host: str | None, blocked: bool
) -> None:
    guarded = AiohttpResolver(GuardedResolver(Resolver(), _override_guard()))
    family = socket.AF_INET6 if ":" in str(sockaddr[0]) else socket.AF_INET
    token = current_host.set(host)
    try:
        if blocked:
            with pytest.raises(BlockedAddressError) as info:
                guarded.socket_factory((family, socket.SOCK_STREAM, 6, "", sockaddr))
            assert "[blocked_address]" in str(info.value)
        else:
            sock = guarded.socket_factory((family, socket.SOCK_STREAM, 6, "", sockaddr))
            sock.close()
    finally:
        current_host.reset(token)
