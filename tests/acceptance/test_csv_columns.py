"""CSV files as CRMs export them: the domain column found by its normalized name or a synonym,
``--column`` / ``?column=`` to pick one, and an error listing the headers found, storing nothing.
Through the real entry points: the CLI as a subprocess, the API over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.acceptance.conftest import Cli
from tests.support.apiserver import ApiServer

# Shapes of real exports: HubSpot companies, a Salesforce report (semicolons, as a European
# Excel saves it), a Sales Navigator scraper, Pipedrive organizations.
HUBSPOT = (
    "Record ID,Company name,Company Domain Name,Website URL,Phone Number\n"
    "101,Acme,acme.test,https://www.acme.test/about,+1 555\n"
    "102,Beta,beta.test,https://beta.test/,\n"
    "103,Gamma,,https://gamma.test/,\n"
)
SALESFORCE = "Account Name;Account: Website;Billing City\nAcme;www.acme.test;Oslo\n"
SALES_NAVIGATOR = "companyName,companyLinkedinUrl,companyWebsite\nAcme,x,https://acme.test\n"
PIPEDRIVE = "Organization - Name,Organization - Website\nAcme,acme.test\n"


def inputs_of(cli: Cli, batch_id: str) -> list[str]:
    exported = cli("results", batch_id, "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    return [json.loads(line)["input"] for line in exported.stdout.splitlines()]


def submit(cli: Cli, path: Path, *args: str) -> str:
    done = cli("submit", str(path), "-p", "noop", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_crm_exports_are_read_by_their_domain_column(cli: Cli, tmp_path: Path) -> None:
    hubspot = tmp_path / "hubspot-companies.csv"
    hubspot.write_text(HUBSPOT, encoding="utf-8")
    # "Company Domain Name" ranks before "Website URL": the domain, not the website
    assert inputs_of(cli, submit(cli, hubspot)) == ["acme.test", "beta.test"]
    for name, text, expected in [
        ("salesforce.csv", SALESFORCE, ["www.acme.test"]),
        ("navigator.csv", SALES_NAVIGATOR, ["https://acme.test"]),
        ("pipedrive.csv", PIPEDRIVE, ["acme.test"]),
    ]:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        assert inputs_of(cli, submit(cli, path)) == expected, name


def test_column_picks_by_normalized_name_or_number(cli: Cli, tmp_path: Path) -> None:
    hubspot = tmp_path / "export.dat"  # no telling extension: --column makes it CSV
    hubspot.write_text(HUBSPOT, encoding="utf-8")
    websites = ["https://www.acme.test/about", "https://beta.test/", "https://gamma.test/"]
    assert inputs_of(cli, submit(cli, hubspot, "--column", "website_url")) == websites
    assert inputs_of(cli, submit(cli, hubspot, "--column", "4")) == websites
    ran = cli("run", str(hubspot), "-p", "noop", "--column", "WEBSITE URL", "--json")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["total"] == 3


def test_no_domain_column_lists_the_headers_and_stores_nothing(cli: Cli, tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "First Name,Email,Company LinkedIn URL,Email Domain\nAda,ada@x.test,u,x.test\n",
        encoding="utf-8",
    )
    refused = [
        cli("submit", str(contacts)),
        cli("run", str(contacts)),
        cli("submit", str(contacts), "--column", "Website"),
        cli("submit", str(contacts), "--column", "9"),
        cli("submit", str(tmp_path / "contacts.csv"), "--format", "text", "--column", "Email"),
    ]
    for result in refused:
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "[invalid_input]" in result.stderr
    headers = "'First Name', 'Email', 'Company LinkedIn URL', 'Email Domain'"
    for result in refused[:4]:
        assert headers in result.stderr, result.stderr
    assert "--column" in refused[0].stderr
    assert "no column 'Website'" in refused[2].stderr
    assert "from 1 to 4" in refused[3].stderr
    assert "only CSV has columns" in refused[4].stderr
    listed = cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


_CSV = {"Content-Type": "text/csv"}


def test_api_csv_body_with_a_column(api: ApiServer) -> None:
    detected = api.post("/v1/batches", data=HUBSPOT, headers=_CSV, params={"processor": "noop"})
    assert detected.status_code == 201, detected.text
    assert detected.json()["total"] == 2
    chosen = api.post(
        "/v1/batches",
        data=HUBSPOT,
        headers=_CSV,
        params={"processor": "noop", "column": "Website URL"},
    )
    assert chosen.status_code == 201, chosen.text
    assert chosen.json()["total"] == 3
    items = api.get(f"/v1/batches/{chosen.json()['id']}/domains").json()["items"]
    assert [item["input"] for item in items][:1] == ["https://www.acme.test/about"]


@pytest.mark.parametrize(
    ("content_type", "body", "column", "expected"),
    [
        ("text/csv", "Name,Phone\nAcme,1\n", None, "headers found: 'Name', 'Phone'"),
        ("text/csv", HUBSPOT, "Domain", "no column 'Domain'"),
        ("text/plain", "acme.test\n", "1", "only CSV has columns"),
        ("application/json", '{"domains": ["acme.test"]}', "1", "CSV bodies"),
    ],
)
def test_api_refused_column_stores_nothing(
    api: ApiServer, content_type: str, body: str, column: str | None, expected: str
) -> None:
    before = [b["id"] for b in api.get("/v1/batches", params={"limit": 500}).json()["items"]]
    params = {"column": column} if column is not None else {}
    refused = api.post(
        "/v1/batches", data=body, headers={"Content-Type": content_type}, params=params
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "invalid_input"
    assert expected in refused.json()["message"]
    after = [b["id"] for b in api.get("/v1/batches", params={"limit": 500}).json()["items"]]
    assert after == before
