"""The deployed world of the end-to-end tests: a scaffolded python-service, versions of it, a
ledger with their gate decisions, and the real `gatekeeper` process driving it all."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gatekeeper.deploy.artifact import tree_digest
from tests.conftest import CliResult, run_cli
from tests.deploy.local.helpers import LoadGenerator, LoadResult, get

SERVICE = "shop"
# Short analysis windows (the tests run ~100 requests/s through the proxy); everything else is
# the template's own deploy section.
DEPLOY_SETTINGS = """\
  stop_grace_period: 3
  drain_timeout: 5
  lease_seconds: 3
  strategy:
    kind: canary
    steps:
      - setWeight: 10
      - pause: {duration: 1}
      - setWeight: 50
      - analysis: {interval: 3, max_inconclusive: 8}
"""
ORIGINAL_INDEX = '    return _json(200, {"service": SERVICE, "version": __version__})\n'


def index_code(label: str, *, delay: float = 0.005, extra: str = "") -> str:
    """The service's GET / for one version: a fixed work time, and what the version does
    differently (errors, log lines) every so many requests."""
    body = f"    n = next(_CALLS)\n    time.sleep({delay!r})\n"
    if extra:
        body += "".join(f"    {line}\n" for line in extra.splitlines())
    return body + f'    return _json(200, {{"service": SERVICE, "version": "{label}"}})\n'


@dataclass
class World:
    root: Path
    svc: Path  # the service directory: gatekeeper.yaml, ledger, deploy state
    sbom: Path
    strategy: str = "canary"  # the configured rollout strategy's kind

    def cli(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        return run_cli(*args, cwd=self.root, env=env)

    def deploy(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        return self.cli("deploy", *args, "-C", str(self.svc), env=env)

    def state(self) -> dict[str, Any]:
        path = self.svc / ".gatekeeper" / "deploy" / SERVICE / "state.json"
        result: dict[str, Any] = json.loads(path.read_text())
        return result

    def status(self) -> dict[str, Any]:
        result = self.deploy("status", "--format", "json")
        assert result.code == 0, result.stderr
        document: dict[str, Any] = json.loads(result.stdout)
        return document

    def version(
        self, name: str, version: str, index: str, *, gate: bool = True, **release: Any
    ) -> Path:
        """A copy of the service with its own GET /, a release.yaml pinning its digest, and
        (``gate``) a passing gate decision for that digest in the service's ledger."""
        directory = self.root / "releases" / name
        shutil.copytree(self.svc, directory, ignore=shutil.ignore_patterns(".gatekeeper"))
        app = directory / "src" / "shop" / "app.py"
        code = app.read_text()
        assert ORIGINAL_INDEX in code, "the template's index() changed: update the test patch"
        code = code.replace(ORIGINAL_INDEX, index).replace(
            "import json\n", "import itertools\nimport json\n", 1
        )
        code = code.replace(
            "Response = tuple[int, str, bytes]\n",
            "Response = tuple[int, str, bytes]\n_CALLS = itertools.count(1)\n",
            1,
        )
        app.write_text(code)
        (directory / "release.yaml").unlink()
        fields = {
            "service": SERVICE,
            "version": version,
            "artifact_digest": tree_digest(directory),
            **release,
        }
        (directory / "release.yaml").write_text(
            "".join(f"{k}: {json.dumps(v)}\n" for k, v in fields.items())
        )
        if gate:
            result = run_cli(
                "gate",
                "run",
                "--release",
                str(directory / "release.yaml"),
                str(self.sbom),
                cwd=self.svc,
            )
            assert result.code == 0, result.stdout + result.stderr
        return directory / "release.yaml"


def write_sbom(path: Path) -> None:
    """The smallest SBOM the service's gate namespaces accept: the release's evidence."""
    path.write_text(
        json.dumps(
            {
                "bomFormat": "CycloneDX",
                "specVersion": "1.5",
                "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
                "version": 1,
                "metadata": {
                    "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "component": {"type": "application", "name": SERVICE, "version": "1"},
                },
                "components": [],
            }
        )
    )


def make_world(root: Path) -> World:
    svc = root / "svc"
    result = run_cli(
        "scaffold",
        "new",
        "python-service",
        str(svc),
        "--no-input",
        "--set",
        f"name={SERVICE}",
        "--set",
        "owner=payments",
    )
    assert result.code == 0, result.stderr
    config = svc / "gatekeeper.yaml"
    config.write_text(config.read_text() + DEPLOY_SETTINGS)
    sbom = root / "sbom.cdx.json"
    write_sbom(sbom)
    return World(root=root, svc=svc, sbom=sbom)


def proxy_port(world: World) -> int:
    return int(world.state()["proxy"]["port"])


def serving(world: World) -> str:
    """Which version answers GET / through the proxy now (sampled 20 times: all the same)."""
    labels = set()
    for _ in range(20):
        status, body = get(proxy_port(world))
        assert status == 200
        labels.add(json.loads(body)["version"])
    assert len(labels) == 1, labels
    return labels.pop()


def deploy_under_load(world: World, release: Path) -> tuple[Any, LoadResult]:
    with LoadGenerator(proxy_port(world), threads=3, max_seconds=90) as load:
        load.wait_for(50)
        result = world.deploy(str(release), "--env", "dev")
        time.sleep(0.3)  # requests right after the switch are part of the test too
    return result, load.result


def settled_on(world: World, version: str) -> dict[str, Any]:
    status = world.status()
    state = status["live"]["state"]
    assert state["phase"] == "stable"
    assert state["stable"]["version"] == version
    assert state["canary"] is None and state["canary_workers"] == []
    assert state["canary_weight"] == 0
    alive = status["live"]["workers_alive"]
    assert len(state["stable_workers"]) == 2 and all(alive.values())
    return status
