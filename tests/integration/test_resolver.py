"""The resolver against a real nameserver on 127.0.0.1: records, the error codes each DNS
failure maps to, DNS_TIMEOUT as the whole lookup's bound (also for a slow answer after fast
ones, which c-ares would have cut short), and the ``dns`` processor's ``accepts_mail`` for a
null MX."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from domainbatch.errors import DomainProcessingError
from domainbatch.fetching.resolver import Answer, Resolver
from domainbatch.processors import dns as dns_processor
from domainbatch.settings import Settings
from tests.support.dnsserver import LocalDNS

RECORDS: dict[str, dict[str, list[str]]] = {
    "both.test": {"A": ["127.0.0.1", "127.0.0.2"], "AAAA": ["::1"]},
    "mail.test": {"A": ["127.0.0.1"], "MX": ["20 mx-b.mail.test.", "10 mx-a.mail.test."]},
    "nullmx.test": {"A": ["127.0.0.1"], "MX": ["0 ."]},
    "v6only.test": {"AAAA": ["::1"]},
    "empty.test": {"TXT": ['"nothing to connect to"']},
    "target.test": {"A": ["127.0.0.9"]},
}
CNAMES = {"alias.test": "target.test."}


def answer(query: dns.message.Message) -> dns.message.Message | None:
    question = query.question[0]
    name = question.name.to_text().rstrip(".")
    rdtype = dns.rdatatype.to_text(question.rdtype)
    response = dns.message.make_response(query)
    if name.startswith("mute"):
        return None
    if name.startswith("slow"):
        time.sleep(0.6)  # this server answers one query at a time: fine for one lookup
        name = "both.test"
    if name.startswith("servfail"):
        response.set_rcode(dns.rcode.SERVFAIL)
    elif name in CNAMES:
        target = CNAMES[name]
        response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "CNAME", target))
        values = RECORDS[target.rstrip(".")].get(rdtype, [])
        if values:
            response.answer.append(dns.rrset.from_text_list(target, 60, "IN", rdtype, values))
    elif name not in RECORDS:
        response.set_rcode(dns.rcode.NXDOMAIN)
    elif values := RECORDS[name].get(rdtype, []):
        response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", rdtype, values))
    return response


def silence(query: dns.message.Message) -> None:
    return None


@pytest.fixture(scope="module")
def nameserver() -> Iterator[LocalDNS]:
    with LocalDNS(answer=answer) as server:
        yield server


def resolve(server: LocalDNS, host: str, *, timeout: float = 2.0) -> Answer | DomainProcessingError:
    async def go() -> Answer | DomainProcessingError:
        resolver = Resolver(nameservers=[server.address], timeout=timeout)
        try:
            return await resolver.resolve(host)
        except DomainProcessingError as error:
            return error

    return asyncio.run(go())


def test_addresses_of_both_families_and_mx_names(nameserver: LocalDNS) -> None:
    both, mail, v6only = (resolve(nameserver, h) for h in ("both.test", "mail.test", "v6only.test"))
    assert isinstance(both, Answer) and isinstance(mail, Answer) and isinstance(v6only, Answer)
    # IPv4 first, in whatever order the answer gave them.
    assert both.addresses[2:] == ["::1"]
    assert sorted(both.addresses) == ["127.0.0.1", "127.0.0.2", "::1"]
    assert mail.mx == ["mx-a.mail.test", "mx-b.mail.test"]
    assert v6only.addresses == ["::1"]


def test_a_cname_chain_gives_the_target_addresses_only(nameserver: LocalDNS) -> None:
    alias = resolve(nameserver, "alias.test")
    assert isinstance(alias, Answer) and alias.addresses == ["127.0.0.9"]


@pytest.mark.parametrize(
    ("host", "code", "words"),
    [
        ("gone.test", "dns_nxdomain", "does not exist"),
        ("empty.test", "dns_nxdomain", "no A or AAAA"),
        ("servfail.test", "dns_error", "no nameserver answered"),
        ("mute.test", "dns_error", "timed out"),
    ],
)
def test_each_failure_has_its_code(nameserver: LocalDNS, host: str, code: str, words: str) -> None:
    error = resolve(nameserver, host, timeout=0.5)
    assert isinstance(error, DomainProcessingError)
    assert (error.code, words in str(error)) == (code, True)


def test_dns_timeout_bounds_the_whole_lookup_whatever_the_nameservers() -> None:
    # Three silent nameservers: not a timeout each (2.4 s or more), one for the whole lookup
    # (0.8 s), with room for a loaded machine (CI once took 1.15 s over a bound of 0.6 s).
    with (
        LocalDNS(answer=silence) as first,
        LocalDNS(answer=silence) as second,
        LocalDNS(answer=silence) as third,
    ):
        addresses = [first.address, second.address, third.address]

        async def go() -> float:
            resolver = Resolver(nameservers=addresses, timeout=0.8)
            began = time.monotonic()
            with pytest.raises(DomainProcessingError, match="timed out"):
                await resolver.resolve("anything.test")
            return time.monotonic() - began

        took = asyncio.run(go())
        assert 0.8 <= took < 1.8


def test_a_slow_answer_after_fast_ones_still_gets_the_whole_dns_timeout(
    nameserver: LocalDNS,
) -> None:
    # A resolver that adapts its timeout to the latency it saw (c-ares: 5x the average, 250 ms
    # at least) times this 600 ms answer out after the quick ones.
    async def go() -> list[str]:
        resolver = Resolver(nameservers=[nameserver.address], timeout=3.0)
        await asyncio.gather(*(resolver.resolve("both.test", want_mx=False) for _ in range(10)))
        return (await resolver.resolve("slow.test", want_mx=False)).addresses

    assert sorted(asyncio.run(go())) == ["127.0.0.1", "127.0.0.2", "::1"]


def test_one_resolver_serves_successive_event_loops(nameserver: LocalDNS) -> None:
    resolver = Resolver(nameservers=[nameserver.address], timeout=2.0)
    for _ in range(2):
        answer = asyncio.run(resolver.resolve("both.test", want_mx=False))
        assert sorted(answer.addresses) == ["127.0.0.1", "127.0.0.2", "::1"]


def test_the_dns_processor_says_a_null_mx_accepts_no_mail(nameserver: LocalDNS) -> None:
    settings = Settings(nameservers=[nameserver.address], dns_timeout=2.0)

    async def go() -> list[dict[str, object]]:
        async with dns_processor.build(settings) as process:
            return [await process(host, {}) for host in ("nullmx.test", "mail.test")]

    nullmx, mail = asyncio.run(go())
    assert (nullmx["mx"], nullmx["accepts_mail"]) == ([""], False)
    assert (mail["mx"], mail["accepts_mail"]) == (["mx-a.mail.test", "mx-b.mail.test"], True)
