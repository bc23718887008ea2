"""Fixtures of the decision service: a key only the test can read, a tiny policy and
evidence, and the real service on uvicorn on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from gatekeeper.ledger.signing import generate_key_pem
from gatekeeper.server.app import create_app
from gatekeeper.server.service import DecisionService, ServiceSettings, StatePaths, open_service
from gatekeeper.server.tokens import Scope

POLICY = """# METADATA
# title: Banned component
# custom:
#   id: TEST-001
#   severity: high
#   remediation: remove it
package test.banned

import rego.v1

deny contains msg if {
\tsome c in input.components
\tc.name == "badlib"
\tmsg := sprintf("%s is banned", [c.name])
}
"""


def sbom(component: str) -> str:
    return (
        '{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":'
        f'[{{"type":"library","name":"{component}","version":"1.0",'
        f'"purl":"pkg:pypi/{component}@1.0"}}]}}'
    )


def release_yaml(service: str, digest_n: int = 1) -> str:
    return f"service: {service}\nversion: 1.0.0\nartifact_digest: sha256:{digest_n:064d}\n"


@dataclass
class Workspace:
    root: Path
    key: Path
    policy: Path
    state: Path

    def paths(self) -> StatePaths:
        return StatePaths(state_dir=self.state)

    def settings(self) -> ServiceSettings:
        return ServiceSettings(policies=(str(self.policy),))

    def open(self) -> DecisionService:
        return open_service(self.paths(), self.settings(), key_path=self.key, env={}, cwd=self.root)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    private, _ = generate_key_pem()
    key = tmp_path / "service.key"
    key.write_bytes(private)
    key.chmod(0o600)
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "banned.rego").write_text(POLICY, encoding="utf-8")
    for name, component in (("bad.cdx.json", "badlib"), ("good.cdx.json", "goodlib")):
        (tmp_path / name).write_text(sbom(component), encoding="utf-8")
    (tmp_path / "release.yaml").write_text(release_yaml("shop"), encoding="utf-8")
    return Workspace(root=tmp_path, key=key, policy=policy, state=tmp_path / "state")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    service: DecisionService
    workspace: Workspace

    def token(self, project: str, scope: Scope) -> str:
        text, _ = self.service.tokens.create(project, scope)
        return text

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def submit(
        self, token: str, evidence: list[str], release: str | None = "release.yaml"
    ) -> httpx.Response:
        root = self.workspace.root
        files = [("evidence", (name, (root / name).read_bytes())) for name in evidence]
        if release:
            files.append(("release", (release, (root / release).read_bytes())))
        with self.client(token) as client:
            return client.post("/v1/gate", files=files)


@contextmanager
def running(service: DecisionService, workspace: Workspace) -> Iterator[RunningServer]:
    """The real uvicorn serving ``service`` on a free loopback port, stopped on exit."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(service), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield RunningServer(url=f"http://127.0.0.1:{port}", service=service, workspace=workspace)
    finally:
        uv.should_exit = True
        thread.join(timeout=20)


@pytest.fixture
def server(workspace: Workspace) -> Iterator[RunningServer]:
    service = workspace.open()
    try:
        with running(service, workspace) as started:
            yield started
    finally:
        service.close()
