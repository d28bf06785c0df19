"""Schemathesis hooks (loaded through ``SCHEMATHESIS_HOOKS``): a generated webhook URL is
swapped for one on ``receiver.test``, which the test server resolves to a blocked
documentation address, so no delivery ever leaves this machine. Only well-formed URL strings
are swapped, so a request generated to be invalid stays invalid."""

from __future__ import annotations

from typing import Any

import schemathesis

SAFE_URL = "http://receiver.test/hook"


def _safe(value: Any) -> Any:
    return SAFE_URL if isinstance(value, str) and len(value) <= 2000 else value


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if isinstance(case.body, dict) and isinstance(case.body.get("webhook"), dict):
        hook = case.body["webhook"]
        if "url" in hook:
            hook["url"] = _safe(hook["url"])
    if case.query and "webhook_url" in case.query:
        case.query["webhook_url"] = _safe(case.query["webhook_url"])
