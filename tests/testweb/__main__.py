"""``python -m tests.testweb [--format json|env] [--until-signal] [--http-port N] ...``

Needs the ``test`` extra (``pip install -e ".[test]"``: trustme, dnspython). Prints one JSON line
(ports, CA file, environment), or with ``--format env`` the environment as shell ``export``
lines, then serves until SIGTERM/SIGINT, or until stdin reaches EOF (a parent process that went
away) unless ``--until-signal`` (for a server started in the background from a shell).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shlex
import signal
import sys
import threading

from tests.testweb import serving_testweb


async def _main(args: argparse.Namespace) -> None:
    async with serving_testweb(
        http_port=args.http_port, https_port=args.https_port, dns_port=args.dns_port
    ) as web:
        if args.format == "env":
            for name, value in web.env().items():
                print(f"export {name}={shlex.quote(value)}")
            sys.stdout.flush()
        else:
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

        if not args.until_signal:
            threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.testweb")
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--https-port", type=int, default=0)
    parser.add_argument("--dns-port", type=int, default=0)
    parser.add_argument(
        "--format", choices=("json", "env"), default="json", help="json (default) or env"
    )
    parser.add_argument(
        "--until-signal",
        action="store_true",
        help="serve until SIGTERM/SIGINT even when stdin is not a terminal or is closed",
    )
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
