"""Waivers held by the service, per project: set by an admin, applied to that project's
submissions only, checked as gate run checks a waivers file, recorded in the log, and never
taken from the runner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.server.tokens import Scope
from tests.conftest import CliResult, run_cli
from tests.server.conftest import RunningServer, Workspace, running

pytestmark = pytest.mark.e2e  # a real service, real gatekeeper processes

POLICY = """# METADATA
# title: Banned component
# custom:
#   id: TEST-002
#   severity: high
package test.banned_subject

import rego.v1

deny contains result if {
\tsome c in input.components
\tc.name == "badlib"
\tresult := {"msg": "badlib is banned", "subject": c.purl}
}
"""


def _waivers(subject: str = "pkg:pypi/badlib", policy: str = "TEST-002") -> str:
    expires = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    return (
        "waivers:\n"
        "  - id: W-1\n"
        f"    policy: {policy}\n"
        f'    subject: "{subject}"\n'
        "    reason: replacement planned (JIRA-1)\n"
        "    approved_by: alice\n"
        f"    expires: {expires}\n"
    )


@pytest.fixture
def waiver_server(workspace: Workspace) -> Any:
    (workspace.policy / "banned.rego").write_text(POLICY, encoding="utf-8")
    service = workspace.open()
    try:
        with running(service, workspace) as started:
            yield started
    finally:
        service.close()


def _cli(server: RunningServer, token: str, *args: str) -> CliResult:
    env = {"GATEKEEPER_SERVER": server.url, "GATEKEEPER_TOKEN": token}
    return run_cli("serve", "waivers", *args, env=env, cwd=server.workspace.root)


def _submit(server: RunningServer, token: str, project: str) -> dict[str, Any]:
    root = server.workspace.root
    (root / "release.yaml").write_text(
        f"service: {project}\nversion: 1.0.0\nartifact_digest: sha256:{'3' * 64}\n", "utf-8"
    )
    response = server.submit(token, ["bad.cdx.json"])
    assert response.status_code == 200, response.text
    decision: dict[str, Any] = response.json()["decision"]
    return decision


def test_a_projects_waivers_apply_to_its_submissions_only(
    waiver_server: RunningServer, tmp_path: Path
) -> None:
    server = waiver_server
    root = server.workspace.root
    admin = server.token("platform", Scope.ADMIN)
    shop = server.token("shop", Scope.SUBMIT)
    billing = server.token("billing", Scope.SUBMIT)
    # A runner's own waivers file is never the service's: still failing.
    (root / ".gatekeeper").mkdir(exist_ok=True)
    (root / ".gatekeeper" / "waivers.yaml").write_text(_waivers(), "utf-8")
    assert _submit(server, shop, "shop")["outcome"] == "fail"

    (tmp_path / "shop-waivers.yaml").write_text(_waivers(), "utf-8")
    done = _cli(server, admin, "set", "--project", "shop", str(tmp_path / "shop-waivers.yaml"))
    assert done.code == 0, done.stderr
    assert "shop: 1 waiver(s) in force" in done.stdout
    decision = _submit(server, shop, "shop")
    assert decision["outcome"] == "pass"
    assert [w["waiver"]["id"] for w in decision["waived"]] == ["W-1"]
    assert "gatekeeper-upload-" not in str(decision)
    assert _submit(server, billing, "billing")["outcome"] == "fail"  # not billing's waiver

    shown = _cli(server, server.token("shop", Scope.READ), "show", "--project", "shop")
    assert shown.code == 0 and shown.stdout == _waivers_text(tmp_path)
    assert _cli(server, billing, "show", "--project", "shop").code == 3  # another project's

    # Only admins set waivers; a catch-all waiver is refused as gate run refuses it.
    refused = _cli(server, shop, "set", "--project", "shop", str(tmp_path / "shop-waivers.yaml"))
    assert refused.code == 3 and "refused the token (403)" in refused.stderr
    (tmp_path / "broad.yaml").write_text(_waivers(subject="*", policy="*"), "utf-8")
    broad = _cli(server, admin, "set", "--project", "shop", str(tmp_path / "broad.yaml"))
    assert broad.code == 2 and "the uploaded waivers" in broad.stderr
    assert ".waivers.yaml" not in broad.stderr

    # An empty file clears the set; the history stays in the log.
    (tmp_path / "none.yaml").write_text("waivers: []\n", "utf-8")
    assert _cli(server, admin, "set", "--project", "shop", str(tmp_path / "none.yaml")).code == 0
    assert _submit(server, shop, "shop")["outcome"] == "fail"
    with server.client(admin) as client:
        history = client.get("/v1/projects/shop/waivers").json()["history"]
    assert [h["waivers"] for h in history] == [1, 0]

    # Restarted, the service holds the same waivers (they are log records).
    assert (
        _cli(server, admin, "set", "--project", "shop", str(tmp_path / "shop-waivers.yaml")).code
        == 0
    )
    server.service.close()
    reopened = server.workspace.open()
    try:
        with running(reopened, server.workspace) as again:
            assert _submit(again, shop, "shop")["outcome"] == "pass"
    finally:
        reopened.close()


def _waivers_text(tmp_path: Path) -> str:
    return (tmp_path / "shop-waivers.yaml").read_text("utf-8")


def test_the_service_applies_the_same_waivers_as_a_local_gate_run(
    waiver_server: RunningServer, tmp_path: Path
) -> None:
    server = waiver_server
    root = server.workspace.root
    (tmp_path / "w.yaml").write_text(_waivers(), "utf-8")
    admin = server.token("platform", Scope.ADMIN)
    assert _cli(server, admin, "set", "--project", "shop", str(tmp_path / "w.yaml")).code == 0
    served = _submit(server, server.token("shop", Scope.SUBMIT), "shop")
    local = run_cli(
        "gate",
        "run",
        "--no-ledger",
        "--format",
        "json",
        "-p",
        str(server.workspace.policy),
        "--waivers",
        str(tmp_path / "w.yaml"),
        "--release",
        str(root / "release.yaml"),
        str(root / "bad.cdx.json"),
        cwd=root,  # as a runner in its repository: violations placed in its release file
    ).json()
    assert served["outcome"] == local["outcome"] == "pass"
    assert served["waived"] == local["waived"]
    assert served["summary"] == local["summary"]
