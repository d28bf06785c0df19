"""A real DNS server on 127.0.0.1 for tests (UDP, dnspython messages), in a background thread.

``answer`` turns a query into a reply (None: no reply, a timeout). The default decides by
name: ``nx*`` -> NXDOMAIN, ``servfail*`` -> SERVFAIL, ``mute*`` -> no reply, anything else ->
A 192.0.2.1 (and MX for names starting ``mail``); the test web serves its records table
(``tests.testweb.dns``). Each query is counted, so tests can see what was asked.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Callable
from types import TracebackType

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


def by_prefix(query: dns.message.Message) -> dns.message.Message | None:
    question = query.question[0]
    name = question.name.to_text().rstrip(".")
    response = dns.message.make_response(query)
    if name.startswith("mute"):
        return None
    if name.startswith("nx"):
        response.set_rcode(dns.rcode.NXDOMAIN)
    elif name.startswith("servfail"):
        response.set_rcode(dns.rcode.SERVFAIL)
    elif question.rdtype == dns.rdatatype.A:
        response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", "192.0.2.1"))
    elif question.rdtype == dns.rdatatype.MX and name.startswith("mail"):
        response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "MX", f"10 mx.{name}."))
    return response


Answer = Callable[[dns.message.Message], dns.message.Message | None]


class LocalDNS:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, answer: Answer = by_prefix) -> None:
        self.answer = answer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.queries: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        return f"{self.sock.getsockname()[0]}:{self.port}"

    def __enter__(self) -> LocalDNS:
        self._thread.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            reply = self._answer(data)
            if reply is not None:
                self.sock.sendto(reply, peer)

    def _answer(self, data: bytes) -> bytes | None:
        query = dns.message.from_wire(data)
        self.queries[query.question[0].name.to_text().rstrip(".")] += 1
        response = self.answer(query)
        return response.to_wire() if response is not None else None


if __name__ == "__main__":  # pragma: no cover - manual use
    import time

    with LocalDNS() as server:
        print(server.address, flush=True)
        time.sleep(3600)
