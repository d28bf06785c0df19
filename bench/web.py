"""A local nginx serving ``*.bench.test`` virtual hosts on high ports of 127.0.0.1, over http and
https (a ``trustme`` CA), from a temporary directory: no root needed, nothing outside it.

Each host ``s<i>.bench.test`` serves one real-sized HTML page: HTML documentation from Debian's
packages when installed (``/usr/share/doc``, 8-400 KB pages), else the repository's fixture
pages, assigned round-robin. nginx is Debian's package: the bench installs it with apt-get
when it is missing and it can (``BENCH_NO_INSTALL=1`` forbids that).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import REPO, die_with_parent
from tests.support.servers import free_port, wait_for_port

FIXTURES = REPO / "tests" / "fixtures" / "pages"
DOCS = Path("/usr/share/doc")
MAX_PAGES = 60


def ensure_nginx() -> str:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if path:
        return path
    if os.environ.get("BENCH_NO_INSTALL") or os.geteuid() != 0:
        raise RuntimeError("nginx is not installed (Debian: apt-get install nginx-light)")
    subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "nginx-light"],
        check=True,
        capture_output=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return shutil.which("nginx") or "/usr/sbin/nginx"


def pick_pages() -> list[Path]:
    """Real HTML pages of homepage-like sizes, in a fixed order."""
    docs = sorted(
        p
        for p in DOCS.rglob("*.html")
        if p.is_file() and not p.is_symlink() and 8_000 <= p.stat().st_size <= 400_000
    )
    if len(docs) >= 10:
        step = max(1, len(docs) // MAX_PAGES)
        return docs[::step][:MAX_PAGES]
    return sorted(FIXTURES.glob("*.html"))


@dataclass
class Web:
    root: Path
    http_port: int
    https_port: int
    closed_port: int
    ca_file: str
    hosts: int
    pages: list[str] = field(default_factory=list)
    page_bytes: list[int] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "http_port": self.http_port,
            "https_port": self.https_port,
            "closed_port": self.closed_port,
            "ca_file": self.ca_file,
            "hosts": self.hosts,
        }

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish, then exit
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


CONFIG = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    types {{ text/html html; }}
    default_type text/html;
    charset utf-8;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 30;
    server_tokens on;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    server {{
        listen 127.0.0.1:{http_port} default_server;
        listen 127.0.0.1:{https_port} ssl default_server;
        server_name *.bench.test;
        ssl_certificate {root}/cert.pem;
        ssl_certificate_key {root}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        root {root}/sites/$host;
        index index.html;
    }}
}}
"""


def start(hosts: int) -> Web:
    """Start nginx with ``hosts`` virtual hosts; the caller must ``stop()`` it."""
    import trustme

    nginx = ensure_nginx()
    root = Path(tempfile.mkdtemp(prefix="bench-web-"))
    root.chmod(0o755)  # nginx's workers drop to an unprivileged user when started as root
    (root / "tmp").mkdir()
    ca = trustme.CA()
    cert = ca.issue_cert("*.bench.test")
    cert.cert_chain_pems[0].write_to_path(root / "cert.pem")
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(root / "cert.pem", append=True)
    cert.private_key_pem.write_to_path(root / "key.pem")
    ca.cert_pem.write_to_path(root / "ca.pem")
    pages_dir = root / "pages"
    pages_dir.mkdir()
    sources = pick_pages()
    page_files = []
    for i, source in enumerate(sources):
        target = pages_dir / f"{i}.html"
        shutil.copyfile(source, target)
        target.chmod(0o644)
        page_files.append(target)
    sites = root / "sites"
    sites.mkdir()
    for i in range(hosts):
        site = sites / f"s{i}.bench.test"
        site.mkdir()
        (site / "index.html").symlink_to(page_files[i % len(page_files)])
    for path in [root, pages_dir, sites, *sites.iterdir()]:
        path.chmod(0o755)
    web = Web(
        root=root,
        http_port=free_port(),
        https_port=free_port(),
        closed_port=free_port(),
        ca_file=str(root / "ca.pem"),
        hosts=hosts,
        pages=[str(s) for s in sources],
        page_bytes=[p.stat().st_size for p in page_files],
    )
    (root / "nginx.conf").write_text(CONFIG.format(root=root, **web.as_dict()))
    web.process = subprocess.Popen(
        [
            nginx,
            "-p",
            str(root),
            "-e",
            str(root / "error.log"),
            "-c",
            str(root / "nginx.conf"),
            "-g",
            "daemon off;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=die_with_parent,
    )
    atexit.register(web.stop)
    try:
        wait_for_port(web.http_port, timeout=10, process=web.process)
    except RuntimeError:
        err = web.process.stderr.read().decode() if web.process.stderr else ""
        web.stop()
        raise RuntimeError(f"nginx did not start: {err}") from None
    except TimeoutError:
        web.stop()
        raise RuntimeError("nginx did not listen within 10 s") from None
    return web
