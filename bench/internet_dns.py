"""The simulated internet's DNS server, in its own process (its CPU is not the client's):

    python -m bench.internet_dns --port PORT [--scale S] [--total-timeout T]

UDP on 127.0.0.1. Each answer waits the host's DNS latency (bench/internet_sim.py); NXDOMAIN,
SERVFAIL or no answer at all (a DNS timeout) as the host draws. A name answers A with one
loopback address (asserted before every send), AAAA with nothing, MX with one exchange, ANY
(Twisted's ``getHostByName``) as A. Names outside the simulated zone are NXDOMAIN. Prints
``ready`` once listening; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
import socket
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from bench.internet_sim import Timing, host, in_zone

SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux
RECEIVE_BUFFER = 16 * 2**20


def reply(query: dns.message.Message, timing: Timing) -> tuple[float, bytes | None]:
    """(delay in seconds, wire reply or ``None`` for no answer at all)."""
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    question = query.question[0]
    name = question.name.to_text().rstrip(".").lower()
    if not in_zone(name):
        response.set_rcode(dns.rcode.NXDOMAIN)
        return 0.0, response.to_wire()
    h = host(name, timing)
    if h.dns == "timeout":
        return 0.0, None
    if h.dns in ("nxdomain", "servfail"):
        response.set_rcode(dns.rcode.NXDOMAIN if h.dns == "nxdomain" else dns.rcode.SERVFAIL)
        return h.dns_seconds, response.to_wire()
    rdtype = question.rdtype
    if rdtype in (dns.rdatatype.A, dns.rdatatype.ANY):
        if not ipaddress.ip_address(h.address).is_loopback:
            raise AssertionError(f"{name} would resolve to {h.address}: not loopback")
        response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", "A", [h.address]))
    elif rdtype == dns.rdatatype.MX:
        exchange = f"10 mail.{h.name}."
        response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", "MX", [exchange]))
    return h.dns_seconds, response.to_wire()


class Server(asyncio.DatagramProtocol):
    def __init__(self, timing: Timing) -> None:
        self.timing = timing
        self.transport: asyncio.DatagramTransport | None = None
        self.queries = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queries += 1
        try:
            query = dns.message.from_wire(data)
        except Exception:  # garbage from anyone: no answer, as a real server
            return
        if not query.question:
            return
        delay, wire = reply(query, self.timing)
        if wire is None or self.transport is None:
            return
        loop = asyncio.get_running_loop()
        loop.call_later(delay, self._send, wire, addr)

    def _send(self, wire: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(wire, addr)


def bound(port: int) -> socket.socket:
    """The server's socket, with a receive buffer for 500 clients' queries arriving at once
    (the default ~200 KB drops a third of such a burst: DNS timeouts nobody drew)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:  # root (or root of its own network namespace) may exceed net.core.rmem_max
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    sock.bind(("127.0.0.1", port))
    return sock


async def serve(port: int, timing: Timing) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    transport, _ = await loop.create_datagram_endpoint(lambda: Server(timing), sock=bound(port))
    print("ready", flush=True)
    try:
        await stop.wait()
    finally:
        transport.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--total-timeout", type=float, default=15.0)
    args = parser.parse_args()
    asyncio.run(serve(args.port, Timing(args.total_timeout, args.scale)))


if __name__ == "__main__":
    main()
