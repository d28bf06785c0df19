"""The User-Agent: the project's name, version and Homepage, and the operator's contact."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domainbatch.core.identity import format_user_agent, homepage_of, project
from domainbatch.settings import Settings

HOME = "https://github.com/domainbatch/domainbatch"


def test_format() -> None:
    assert format_user_agent("1.2.0", HOME, "ops@acme.test") == (
        f"domainbatch/1.2.0 (+{HOME}; ops@acme.test)"
    )
    assert format_user_agent("1.2.0", HOME, None) == f"domainbatch/1.2.0 (+{HOME})"
    assert format_user_agent("1.2.0", None, "ops@acme.test") == "domainbatch/1.2.0 (ops@acme.test)"
    assert format_user_agent("1.2.0", None, None) == "domainbatch/1.2.0"


def test_homepage_from_project_urls() -> None:
    fields = [f"Repository, {HOME}", f"Homepage, {HOME}", f"Issues, {HOME}/issues"]
    assert homepage_of(fields) == HOME
    assert homepage_of([f"homepage,{HOME}"]) == HOME
    assert homepage_of([f"Repository, {HOME}"]) is None


def test_settings_build_it_unless_the_operator_sets_one(monkeypatch: pytest.MonkeyPatch) -> None:
    version, homepage = project()
    monkeypatch.setenv("DOMAINBATCH_CONTACT", "https://acme.test/crawler")
    expected = format_user_agent(version, homepage, "https://acme.test/crawler")
    assert Settings().http_user_agent() == expected
    monkeypatch.setenv("DOMAINBATCH_USER_AGENT", "AcmeAudit/1.0")
    assert Settings().http_user_agent() == "AcmeAudit/1.0"
    monkeypatch.setenv("DOMAINBATCH_USER_AGENT", " ")  # blank: unset
    assert Settings().http_user_agent() == expected
    for bad in ("ops\r\nX-Injected: 1", "a (b)"):
        with pytest.raises(ValidationError):
            Settings(contact=bad)
    assert Settings().http_limit_per_host == 4
    with pytest.raises(ValidationError):
        Settings(http_limit_per_host=-1)
