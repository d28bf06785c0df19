"""``python -m tests.testweb [--http-port N] [--https-port N] [--dns-port N]``

Prints one JSON line (ports, CA file) and serves until stdin reaches EOF or SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import threading

from tests.testweb import serving_testweb


async def _main(args: argparse.Namespace) -> None:
    async with serving_testweb(
        http_port=args.http_port, https_port=args.https_port, dns_port=args.dns_port
    ) as web:
        print(json.dumps(web.describe()), flush=True)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        # EOF on stdin means the parent went away: do not outlive it. A daemon thread, not the
        # loop's executor: asyncio.run joins executor threads on exit, so a read still blocked
        # on an open stdin would keep a SIGTERM'd server from ever exiting.
        def watch_stdin() -> None:
            sys.stdin.read()
            with contextlib.suppress(RuntimeError):  # the loop may be closed already
                loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.testweb")
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--https-port", type=int, default=0)
    parser.add_argument("--dns-port", type=int, default=0)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
