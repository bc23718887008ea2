"""Policy bundle versions on the service: upload what `policy bundle` builds, list, activate per
environment, roll back; gates judge with the active bundle and their decisions name it; every
change is a signed log record that survives a restart; a swapped archive is refused."""

from __future__ import annotations

import io
import sqlite3
import tarfile
from pathlib import Path

import pytest

from gatekeeper.ledger.store import compress
from gatekeeper.server.bundles import Activation, previous_digest
from gatekeeper.server.tokens import Scope
from tests.conftest import CliResult, run_cli
from tests.server.conftest import POLICY, RunningServer, Workspace, running


def _activation(digest: str, rollback_of: str | None = None) -> Activation:
    return Activation("production", digest, "t", "admin", rollback_of, 0)


def test_rollback_walks_back_past_versions_already_rolled_back_from() -> None:
    a, b, c = "sha256:a", "sha256:b", "sha256:c"
    assert previous_digest([_activation(a)]) is None
    assert previous_digest([_activation(a), _activation(b)]) == a
    history = [_activation(a), _activation(b), _activation(c), _activation(b, rollback_of=c)]
    assert previous_digest(history) == a  # not c again: it was rolled back from
    # An explicit re-activation after a rollback counts again.
    assert previous_digest([*history, _activation(c)]) == b
    assert previous_digest([_activation(a), _activation(a)]) is None


def _bundle(root: Path, name: str, banned: str) -> Path:
    folder = root / f"src-{name}"
    folder.mkdir()
    (folder / "banned.rego").write_text(POLICY.replace('"badlib"', f'"{banned}"'), "utf-8")
    archive = root / f"{name}.tar.gz"
    built = run_cli("policy", "bundle", str(folder), "-o", str(archive), "--revision", name)
    assert built.code == 0, built.stderr
    return archive


def _cli(server: RunningServer, token: str, *args: str) -> CliResult:
    env = {"GATEKEEPER_SERVER": server.url, "GATEKEEPER_TOKEN": token}
    return run_cli("serve", "bundle", *args, env=env, cwd=server.workspace.root)


def _submit(server: RunningServer, token: str, evidence: str, environment: str | None) -> dict:
    root = server.workspace.root
    release = "service: shop\nversion: 1.0.0\nartifact_digest: sha256:" + "1" * 64 + "\n"
    if environment:
        release += f"environment: {environment}\n"
    (root / "release.yaml").write_text(release, encoding="utf-8")
    response = server.submit(token, [evidence])
    assert response.status_code == 200, response.text
    decision: dict = response.json()["decision"]
    return decision


@pytest.mark.e2e
def test_gates_judge_with_the_bundle_active_for_their_environment(server: RunningServer) -> None:
    root = server.workspace.root
    admin = server.token("platform", Scope.ADMIN)
    submit = server.token("shop", Scope.SUBMIT)
    strict = _bundle(root, "strict", banned="goodlib")
    lenient = _bundle(root, "lenient", banned="nothing-at-all")

    uploaded = _cli(server, admin, "upload", str(strict))
    assert uploaded.code == 0, uploaded.stderr
    strict_digest = uploaded.stdout.strip()
    assert strict_digest.startswith("sha256:") and "uploaded bundle" in uploaded.stderr
    again = _cli(server, admin, "upload", str(strict))
    assert again.code == 0 and again.stdout.strip() == strict_digest
    assert "already uploaded" in again.stderr  # recorded once
    lenient_digest = _cli(server, admin, "upload", str(lenient)).stdout.strip()

    # Nothing active yet: the start-up bundle (bans badlib only) judges every environment.
    # ("live", not "production": production also requires evidence kinds this test omits.)
    first = _submit(server, submit, "good.cdx.json", "live")
    assert first["outcome"] == "pass", (first["violations"], first.get("summary"))

    activated = _cli(server, admin, "activate", "--env", "live", strict_digest)
    assert activated.code == 0, activated.stderr
    assert f"live: bundle {strict_digest} active" in activated.stdout
    live_decision = _submit(server, submit, "good.cdx.json", "live")
    assert live_decision["outcome"] == "fail"
    assert live_decision["policy_bundle"]["digest"] == strict_digest
    assert live_decision["policy_bundle"]["revision"] == "strict"
    # Another environment keeps the start-up bundle until '*' is activated.
    staging = _submit(server, submit, "good.cdx.json", "staging")
    assert staging["outcome"] == "pass" and staging["policy_bundle"]["digest"] != strict_digest
    assert _cli(server, admin, "activate", "--env", "*", lenient_digest).code == 0
    assert _submit(server, submit, "bad.cdx.json", "staging")["outcome"] == "pass"
    assert _submit(server, submit, "bad.cdx.json", None)["policy_bundle"]["revision"] == "lenient"

    assert _cli(server, admin, "activate", "--env", "live", lenient_digest).code == 0
    rolled = _cli(server, admin, "rollback", "--env", "live")
    assert rolled.code == 0, rolled.stderr
    assert f"bundle {strict_digest} active (rolled back from {lenient_digest})" in rolled.stdout
    assert _submit(server, submit, "good.cdx.json", "live")["outcome"] == "fail"
    nothing = _cli(server, admin, "rollback", "--env", "live")
    assert nothing.code == 2 and "no earlier bundle to roll back to" in nothing.stderr

    listing = _cli(server, admin, "list")
    assert listing.code == 0
    lines = {line.split()[0]: line for line in listing.stdout.splitlines()}
    assert lines[strict_digest].endswith("active: live")
    assert lines[lenient_digest].endswith("active: *")

    # Bundle records are the service's, not a project's decisions.
    with server.client(admin) as client:
        summaries = client.get("/v1/decisions").json()["decisions"]
    assert summaries and all(s["outcome"] in ("pass", "fail") for s in summaries)

    # The record survives a restart; the archive comes back from the log's blob.
    server.service.close()
    for cached in (server.workspace.state / "bundles").iterdir():
        cached.unlink()
    reopened = server.workspace.open()
    try:
        with running(reopened, server.workspace) as again_server:
            assert reopened.bundles.active() == {"live": strict_digest, "*": lenient_digest}
            assert _submit(again_server, submit, "good.cdx.json", "live")["outcome"] == "fail"
    finally:
        reopened.close()


@pytest.mark.e2e
def test_only_admins_change_bundles_and_bad_archives_are_refused(server: RunningServer) -> None:
    root = server.workspace.root
    archive = _bundle(root, "one", banned="x")
    submit = server.token("shop", Scope.SUBMIT)
    read = server.token("shop", Scope.READ)
    admin = server.token("platform", Scope.ADMIN)
    for token in (submit, read):
        refused = _cli(server, token, "upload", str(archive))
        assert refused.code == 3 and "refused the token (403)" in refused.stderr
    assert _cli(server, read, "list").code == 0
    assert _cli(server, "gkt_nope_nope", "list").code == 3

    (root / "garbage.tar.gz").write_bytes(b"not gzip at all")
    garbage = _cli(server, admin, "upload", str(root / "garbage.tar.gz"))
    assert garbage.code == 3 and "not a readable .tar.gz bundle" in garbage.stderr
    # `policy bundle` packs sources as they are; the service compiles before it accepts.
    (root / "src-one" / "banned.rego").write_text("package broken\n\ndeny contains x if {\n")
    broken = root / "broken.tar.gz"
    assert run_cli("policy", "bundle", str(root / "src-one"), "-o", str(broken)).code == 0
    refused = _cli(server, admin, "upload", str(broken))
    assert refused.code == 3 and "422" in refused.stderr and "banned.rego" in refused.stderr
    # A hand-made archive with tests only would judge nothing: refused, naming the upload.
    tests_only = root / "tests-only.tar.gz"
    with tarfile.open(tests_only, "w:gz") as archive:
        for name, content in (("data.json", b"{}"), ("x_test.rego", b"package x_test\n")):
            member = tarfile.TarInfo(name)
            member.size = len(content)
            archive.addfile(member, io.BytesIO(content))
    no_rules = _cli(server, admin, "upload", str(tests_only))
    assert no_rules.code == 3 and "no rules" in no_rules.stderr
    assert "the uploaded archive" in no_rules.stderr and ".upload" not in no_rules.stderr

    unknown = _cli(server, admin, "activate", "--env", "live", "sha256:" + "0" * 64)
    assert unknown.code == 2 and "no uploaded bundle" in unknown.stderr
    bad_env = _cli(server, admin, "activate", "--env", "../etc", "sha256:" + "0" * 64)
    assert bad_env.code == 2 and "environment '../etc'" in bad_env.stderr
    with server.client(admin) as client:
        answer = client.put("/v1/environments/a%20b/bundle", json={"digest": "sha256:" + "0" * 64})
    assert answer.status_code == 400 and "environment 'a b'" in answer.json()["error"]
    assert server.service.bundles.versions() == []
    assert server.service.log.tree.size == 0  # nothing refused was recorded


@pytest.mark.e2e
def test_a_swapped_archive_in_the_database_is_refused_not_judged_with(
    workspace: Workspace,
) -> None:
    service = workspace.open()
    try:
        with running(service, workspace) as server:
            admin = server.token("platform", Scope.ADMIN)
            submit = server.token("shop", Scope.SUBMIT)
            strict = _bundle(workspace.root, "strict", banned="goodlib")
            lenient = _bundle(workspace.root, "lenient", banned="nothing")
            digest = _cli(server, admin, "upload", str(strict)).stdout.strip()
            assert _cli(server, admin, "activate", "--env", "live", digest).code == 0
            version = service.bundles.version(digest)
            for cached in (workspace.state / "bundles").iterdir():
                cached.unlink()
            # Someone with write access to the database swaps the archive's blob content.
            with sqlite3.connect(workspace.state / "ledger.db") as db:
                db.execute(
                    "UPDATE gk_ledger_blobs SET content = ? WHERE digest = ?",
                    (compress(lenient.read_bytes()), version.archive_digest),
                )
            root = workspace.root
            (root / "release.yaml").write_text(
                "service: shop\nversion: 1.0.0\nartifact_digest: sha256:"
                + "2" * 64
                + "\nenvironment: live\n",
                encoding="utf-8",
            )
            response = server.submit(submit, ["good.cdx.json"])
            assert response.status_code == 500
            assert response.json()["exit_code"] == 3
            assert "does not match its digest" in response.json()["error"]
    finally:
        service.close()
