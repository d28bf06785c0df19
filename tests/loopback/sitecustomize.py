"""Loaded at start-up by every Python process whose ``PYTHONPATH`` holds this folder (the test
harness puts it first): installs the loopback-only guard (``loopback_guard.py``)."""

import loopback_guard

loopback_guard.install()
