"""Local servers: a free loopback port for one, and waiting until one listens or answers.

Everything here is 127.0.0.1: a harness never aims anything elsewhere.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A port nobody listens on right now (the kernel's pick), for a server about to start."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _check_alive(process: subprocess.Popen[Any] | None, what: str) -> None:
    if process is not None and process.poll() is not None:
        raise RuntimeError(f"{what}: the server exited (status {process.returncode})")


def wait_for_port(
    port: int,
    *,
    host: str = HOST,
    timeout: float = 10,
    process: subprocess.Popen[Any] | None = None,
) -> None:
    """Until ``host:port`` accepts a connection; raises ``TimeoutError`` after ``timeout``
    seconds, ``RuntimeError`` at once when ``process`` (the server) exits meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        _check_alive(process, f"{host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listens on {host}:{port} after {timeout:g} s"
                ) from None
            time.sleep(0.05)


# No proxy from the environment: a request to loopback must reach loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def wait_for_url(
    url: str, *, timeout: float = 30, process: subprocess.Popen[Any] | None = None
) -> None:
    """Until ``GET url`` answers 200 (e.g. a ``/readyz``); raises like ``wait_for_port``."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        _check_alive(process, url)
        try:
            with _OPENER.open(url, timeout=2) as response:
                if response.status == 200:
                    return
                last = f"status {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"status {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer 200 within {timeout:g} s ({last})")
        time.sleep(0.1)
