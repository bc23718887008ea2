"""The opa-server engine's parts that need no server: query paths and refusals."""

from __future__ import annotations

import pytest

from gatekeeper.errors import EngineError
from gatekeeper.policy.bundle import PolicyBundle
from gatekeeper.policy.engines.opa_server_engine import OpaServerEngine, query_path
from gatekeeper.policy.engines.registry import available_engines, get_engine


def test_queries_become_data_api_paths() -> None:
    assert query_path("data.gatekeeper.vuln.deny") == ["gatekeeper", "vuln", "deny"]
    assert query_path('data.a["b-c"].d') == ["a", "b-c", "d"]
    with pytest.raises(EngineError, match="only data references"):
        query_path("input.x")
    with pytest.raises(EngineError, match="cannot address"):
        query_path('data["a.b"].deny')


@pytest.mark.parametrize(
    ("url", "needle"),
    [("", "needs the server's URL"), ("ftp://x", "not an http"), ("http://h/v1/data", "root URL")],
)
def test_a_missing_or_wrong_url_is_an_engine_error(url: str, needle: str) -> None:
    engine = OpaServerEngine(env={"GATEKEEPER_OPA_URL": url})
    with pytest.raises(EngineError, match=needle):
        engine.evaluate(PolicyBundle(modules=()), "{}", ("data.x.deny",))


def test_registered_but_not_counted_as_installed() -> None:
    assert get_engine("opa-server").name == "opa-server"
    assert "opa-server" not in available_engines()  # needs a server: not in engine comparisons
