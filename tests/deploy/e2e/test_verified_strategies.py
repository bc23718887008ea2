"""Rolling and blue-green are verified like a canary (issue 15, item 2), end to end: the real
CLI, real workers behind the real proxy on loopback, a bounded load generator. Each strategy
rolls back a release failing 1 request in 20 (5 %) and one twice as slow, and promotes a healthy
one with 0 failed requests; blue-green stops a failing green before the switch, on copies of
blue's requests, with 0 failed client requests."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.deploy.e2e.helpers import (
    DEPLOY_SETTINGS,
    World,
    deploy_under_load,
    index_code,
    make_world,
    settled_on,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform != "linux", reason="the local target uses /proc"),
]

_STRATEGY = {
    "rolling": "  strategy:\n    kind: rolling\n    analysis: {interval: 3, budget: 45}\n",
    "blue-green": "  strategy:\n    kind: blue-green\n    analysis: {interval: 3, budget: 45}\n",
}


@pytest.fixture(scope="module", params=sorted(_STRATEGY))
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    built = make_world(tmp_path_factory.mktemp(f"verified-{request.param}"))
    built.strategy = request.param
    config = built.svc / "gatekeeper.yaml"
    text = config.read_text()
    canary = DEPLOY_SETTINGS[DEPLOY_SETTINGS.index("  strategy:") :]
    config.write_text(text.replace(canary, _STRATEGY[request.param]))
    try:
        first = built.deploy(str(built.version("v1", "1.0.1", index_code("v1"))), "--env", "dev")
        assert first.code == 0, first.stdout + first.stderr
        yield built
    finally:
        built.deploy("stop")


@pytest.mark.parametrize(
    ("label", "version", "code"),
    [
        ("errors", "1.0.3", index_code("v3", extra="if n % 20 == 0:\n    return _json(500, {})")),
        ("slow", "1.0.4", index_code("v4", delay=0.010)),
    ],
)
def test_a_bad_release_is_rolled_back(world: World, label: str, version: str, code: str) -> None:
    release = world.version(label, version, code)
    result, load = deploy_under_load(world, release)
    assert result.code == 1, result.stdout + result.stderr
    assert "rolled_back" in result.stdout
    if world.strategy == "blue-green":
        # Judged on copies of blue's requests before the switch: no client ever saw green.
        assert "before the switch (on mirrored requests) failed" in result.stdout
        assert load.failed == 0, load.errors[:3]
    settled_on(world, "1.0.1")


def test_a_healthy_release_is_verified_and_promoted(world: World) -> None:
    release = world.version("v2", "1.0.2", index_code("v2"))
    result, load = deploy_under_load(world, release)
    assert result.code == 0, result.stdout + result.stderr
    assert "look 1" in result.stdout  # it was judged, not shipped unverified
    assert load.failed == 0, load.errors[:3]
    settled_on(world, "1.0.2")
