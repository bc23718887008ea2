"""`gatekeeper scaffold update`: three-way merge from the old render to the new template."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.scaffold.helpers import run_service_tests, scaffold, tree


def _old_service(tmp_path: Path) -> Path:
    dest = tmp_path / "svc"
    scaffold(dest, "python-service", "--set", "name=orders-api", "--version", "1.0.0")
    return dest


def _version(dest: Path) -> str:
    return str(json.loads((dest / ".gatekeeper/template.json").read_text())["version"])


def test_update_keeps_local_edits_and_brings_in_the_template_change(tmp_path: Path) -> None:
    dest = _old_service(tmp_path)
    app = dest / "src/orders_api/app.py"
    # Local edits: one in a file the template also changes (a different place), one in a file
    # the template leaves alone, and a new file of the service's own.
    app.write_text(
        app.read_text().replace(
            'return _json(200, {"service": SERVICE, "version": __version__})',
            'return _json(200, {"service": SERVICE, "version": __version__, "team": "payments"})',
        )
    )
    readme = dest / "README.md"
    readme.write_text(readme.read_text() + "\n## On call\n\nPage #payments-oncall.\n")
    (dest / "src/orders_api/routes.py").write_text("# ours\n")

    result = run_cli("scaffold", "update", str(dest), "--to", "1.1.0")
    assert result.code == 0, result.stdout + result.stderr
    assert "python-service 1.0.0 -> 1.1.0" in result.stdout
    assert "merged        src/orders_api/app.py" in result.stdout

    merged = app.read_text()
    assert '"team": "payments"' in merged  # local edit kept
    assert '"/readyz": readyz' in merged  # template change brought in
    assert "Page #payments-oncall." in readme.read_text()
    assert "/readyz" in readme.read_text()  # template change to README merged too
    assert "HEALTHCHECK" in (dest / "Dockerfile").read_text()  # unedited file updated
    assert (dest / "src/orders_api/routes.py").read_text() == "# ours\n"
    assert (dest / "requirements-test.txt").is_file()  # added by 1.1.0
    assert not (dest / "requirements-dev.txt").exists()  # removed by 1.1.0, untouched locally
    assert _version(dest) == "1.1.0"
    # The merged service still works, including the new endpoint's test.
    tests = run_service_tests(dest)
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_conflicting_edit_gets_markers_and_exit_1(tmp_path: Path) -> None:
    dest = _old_service(tmp_path)
    dockerfile = dest / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("USER nobody", "USER appuser"))

    result = run_cli("scaffold", "update", str(dest), "--to", "1.1.0")
    assert result.code == 1, result.stdout + result.stderr
    assert "conflict      Dockerfile" in result.stdout
    text = dockerfile.read_text()
    assert "<<<<<<< local\nUSER appuser\n" in text  # the local change is not lost
    assert "=======\nUSER 65534:65534\n" in text
    assert ">>>>>>> python-service 1.1.0" in text
    # Non-conflicting files were still updated, and the record moved on.
    assert '"/readyz": readyz' in (dest / "src/orders_api/app.py").read_text()
    assert _version(dest) == "1.1.0"


def test_dry_run_shows_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    dest = _old_service(tmp_path)
    before = tree(dest)
    result = run_cli("scaffold", "update", str(dest), "--dry-run")
    assert result.code == 0, result.stderr
    assert "(dry run)" in result.stdout
    assert "+++ b/src/orders_api/app.py" in result.stdout
    assert '+    "/readyz": readyz,' in result.stdout
    assert tree(dest) == before


def test_file_removed_by_template_but_edited_locally_is_kept(tmp_path: Path) -> None:
    dest = _old_service(tmp_path)
    (dest / "requirements-dev.txt").write_text("pytest==8.3.5\nhypothesis==6.100.0\n")
    result = run_cli("scaffold", "update", str(dest))
    assert result.code == 0, result.stderr
    assert "removed from the template, edited locally" in result.stdout
    assert "hypothesis" in (dest / "requirements-dev.txt").read_text()


def test_file_deleted_locally_stays_deleted(tmp_path: Path) -> None:
    dest = _old_service(tmp_path)
    (dest / "Dockerfile").unlink()
    result = run_cli("scaffold", "update", str(dest))
    assert result.code == 0, result.stderr
    assert "kept deleted  Dockerfile" in result.stdout
    assert not (dest / "Dockerfile").exists()


def test_update_refuses_while_conflict_markers_remain(tmp_path: Path) -> None:
    dest = _old_service(tmp_path)
    dockerfile = dest / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("USER nobody", "USER appuser"))
    assert run_cli("scaffold", "update", str(dest), "--to", "1.1.0").code == 1
    with_markers = dockerfile.read_bytes()
    again = run_cli("scaffold", "update", str(dest))
    assert again.code == 2
    assert "Dockerfile still has conflict markers" in again.stderr
    assert dockerfile.read_bytes() == with_markers


def test_already_current_and_bad_versions(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    scaffold(dest, "python-service", "--set", "name=orders-api")
    same = run_cli("scaffold", "update", str(dest))
    assert same.code == 0
    assert "nothing to change" in same.stdout
    older = run_cli("scaffold", "update", str(dest), "--to", "1.0.0")
    assert older.code == 2
    assert "downgrades are not supported" in older.stderr
    missing = run_cli("scaffold", "update", str(dest), "--to", "9.9.9")
    assert missing.code == 2
    assert "has no version 9.9.9" in missing.stderr


def test_update_outside_a_generated_service_is_bad_input(tmp_path: Path) -> None:
    result = run_cli("scaffold", "update", str(tmp_path))
    assert result.code == 2
    assert "template.json" in result.stderr
