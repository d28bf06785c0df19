"""What the three harnesses share: the test suite (``tests/``), the validation scripts
(``scripts/testing/``) and the benchmarks (``bench/``).

- ``servers``: free loopback ports, waiting until a server listens or answers.
- ``databases``: where PostgreSQL and PgBouncer are (``scripts/testenv.sh``'s PgBouncer
  included), creating, migrating and dropping a run's databases.
- ``processes``: the environment of a child process, ``domainbatch`` commands, starting and
  stopping children (process groups, SIGTERM then SIGKILL), their peak memory.
- the servers a run starts: ``apiserver`` (``domainbatch serve``), ``tcpproxy`` (an outage on
  demand), ``dnsserver``; and ``tests.testweb`` (HTTP, HTTPS, DNS) beside this package.
- test doubles: ``processors``, ``extractors``, ``hostile``, ``exits_on_import``.

Why here, and not a package of its own: every harness runs from a checkout, and this one is
importable as ``tests.support`` from its root without installing anything (pytest puts the root
on ``sys.path``, ``python -m bench`` runs from it, ``scripts/testing/common.py`` adds it), while
``pip install`` ships only ``src/`` (nothing of the harnesses reaches users). The test doubles
and the test web already lived here, so the scripts and the benchmarks already depended on
``tests``; a second top-level package would have split one concern in two. Nothing here imports
pytest or ``tests.conftest``: a script or a benchmark that imports it gets no test fixtures,
no loopback guard and no database of its own.
"""
