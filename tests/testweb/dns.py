"""The test web's own DNS zone, served by ``tests.support.dnsserver.LocalDNS``: a records
table, so tests can point names at loopback, RFC 1918 or metadata addresses and check that the
SSRF guard refuses them on the DNS path, and give MX records for ``accepts_mail``.
"""

from __future__ import annotations

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

ZONE = "dnsweb.example"

# name -> {rdtype: [values]}; a name missing here is NXDOMAIN.
RECORDS: dict[str, dict[str, list[str]]] = {
    f"mail.{ZONE}": {"A": ["127.0.0.1"], "MX": [f"10 mx1.{ZONE}.", f"20 mx2.{ZONE}."]},
    f"nomail.{ZONE}": {"A": ["127.0.0.1"]},
    f"loopback.{ZONE}": {"A": ["127.0.0.1"]},
    f"private.{ZONE}": {"A": ["10.1.2.3"]},
    f"cgnat.{ZONE}": {"A": ["100.64.1.1"]},
    f"metadata.{ZONE}": {"A": ["169.254.169.254"]},
    f"mapped.{ZONE}": {"AAAA": ["::ffff:127.0.0.1"]},
    f"ula.{ZONE}": {"AAAA": ["fd00::1"]},
}
SERVFAIL = {f"servfail.{ZONE}"}


def answer(query: dns.message.Message) -> dns.message.Message:
    """The zone's reply to ``query`` (for ``tests.support.dnsserver.LocalDNS``)."""
    response = dns.message.make_response(query)
    question = query.question[0]
    name = question.name.to_text().rstrip(".").lower()
    if name in SERVFAIL:
        response.set_rcode(dns.rcode.SERVFAIL)
    elif name not in RECORDS:
        response.set_rcode(dns.rcode.NXDOMAIN)
    else:
        rdtype = dns.rdatatype.to_text(question.rdtype)
        values = RECORDS[name].get(rdtype, [])
        if values:
            response.answer.append(
                dns.rrset.from_text_list(question.name, 60, "IN", rdtype, values)
            )
    return response
