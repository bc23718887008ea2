"""The optional `opa` engine (real OPA through opa-golib-python-bindings): results, batching,
prints, and its guards failing closed (network builtins refused, timeouts, absence)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper.errors import EngineError, PolicyError
from gatekeeper.policy.engines import opa_engine
from gatekeeper.policy.engines.opa_worker import batched_query
from gatekeeper.policy.engines.registry import get_engine
from tests.policy.test_policy_engines import bundle_of

pytestmark = pytest.mark.skipif(not opa_engine.opa_installed(), reason="opa not installed")

POLICY = """package p

deny contains msg if {
\tprint("checking", input.name)
\tinput.name == "bad"
\tmsg := sprintf("%s is bad", [input.name])
}

warn contains "always" if true

allow if input.name == "good"
"""


def test_queries_are_batched_into_one_and_undefined_rules_are_absent(tmp_path: Path) -> None:
    assert batched_query(["data.p.deny", "data.p.allow"]) == (
        "q0 := [v | v := data.p.deny]; q1 := [v | v := data.p.allow]"
    )
    result = get_engine("opa").evaluate(
        bundle_of(tmp_path, POLICY),
        '{"name": "bad"}',
        ("data.p.deny", "data.p.warn", "data.p.allow"),
    )
    assert result.values == {"data.p.deny": ["bad is bad"], "data.p.warn": ["always"]}
    assert result.prints == ("p.rego:4: checking bad",)


@pytest.mark.parametrize(
    "call", ['http.send({"method": "GET", "url": "http://x"})', 'net.lookup_ip_addr("x.invalid")']
)
def test_network_builtins_are_refused_before_evaluation(tmp_path: Path, call: str) -> None:
    source = f'package p\n\ndeny contains "x" if {{\n\tr := {call}\n\tr\n}}\n'
    with pytest.raises(PolicyError, match="refused before evaluation") as caught:
        get_engine("opa").evaluate(bundle_of(tmp_path, source), "{}", ("data.p.deny",))
    assert caught.value.path == "p.rego" and caught.value.where == "4"


def test_a_builtin_error_is_an_error_not_an_undefined_rule(tmp_path: Path) -> None:
    source = 'package p\n\ndeny contains "x" if {\n\tcount(input.n) > 0\n}\n'
    with pytest.raises(EngineError, match="count"):
        get_engine("opa").evaluate(bundle_of(tmp_path, source), '{"n": 3}', ("data.p.deny",))


def test_compile_error_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as caught:
        get_engine("opa").check(bundle_of(tmp_path, "package p\n\ndeny contains x if {\n"))
    assert caught.value.path == "p.rego"


def test_a_runaway_evaluation_is_stopped_by_the_worker_timeout(tmp_path: Path) -> None:
    source = (
        'package p\n\ndeny contains "x" if {\n'
        "\tcount([y | some y in numbers.range(1, 100000000); y % 7 == 0]) > 0\n}\n"
    )
    with pytest.raises(EngineError, match="timed out"):
        get_engine("opa").evaluate(bundle_of(tmp_path, source), "{}", ("data.p.deny",), timeout=2)


def test_absence_is_reported_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(opa_engine, "opa_installed", lambda: False)
    with pytest.raises(EngineError, match="--ignore-requires-python"):
        get_engine("opa")


def test_trace_and_custom_builtins_need_opa(tmp_path: Path) -> None:
    bundle = bundle_of(tmp_path, POLICY)
    with pytest.raises(EngineError, match="--trace needs the opa engine"):
        get_engine("regorus").evaluate(bundle, "{}", ("data.p.deny",), trace=True)
    traced = get_engine("opa").evaluate(bundle, '{"name": "x"}', ("data.p.deny",), trace=True)
    assert any("data.p.deny" in line for line in traced.trace)
