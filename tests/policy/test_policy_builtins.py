"""Builtins an engine lacks, and network builtins, are refused before evaluation."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gatekeeper.errors import EXIT_ENGINE
from gatekeeper.policy.builtins import NETWORK_BUILTINS, builtin_calls, builtin_names
from gatekeeper.policy.bundle import load_bundle
from gatekeeper.policy.rego_source import function_calls
from tests.conftest import EXAMPLES, run_cli

SBOM = str(EXAMPLES / "evidence" / "sbom.cdx.json")


def test_regopy_list_is_what_regopy_says_it_implements() -> None:
    regopy = pytest.importorskip("regopy")
    interpreter = regopy.Interpreter()
    derived = {name for name in builtin_names("opa") if interpreter.is_builtin(name)}
    assert derived == set(builtin_names("regopy"))


def _regorus_finds(name: str) -> bool:
    regorus = pytest.importorskip("regorus")
    engine = regorus.Engine()
    try:
        engine.add_policy("p.rego", f"package p\nx := {name}(1)\n")
        engine.eval_query("data.p.x")
    except BaseException as exc:
        return "could not find function" not in str(exc)
    return True


def test_regorus_list_is_what_regorus_compiles() -> None:
    listed = builtin_names("regorus")
    assert listed and listed <= builtin_names("opa")
    assert all(_regorus_finds(name) for name in listed)
    missing = builtin_names("opa") - listed
    # http.send is the one name regorus knows but does not implement: a stub whose call is
    # undefined, which is exactly the fail-open case this list exists for.
    assert {name for name in missing if _regorus_finds(name)} == {"http.send"}


def test_calls_ignore_strings_comments_local_functions_and_imports() -> None:
    source = textwrap.dedent(
        """\
        package p
        import data.lib.helpers
        # http.send({"x": 1}) in a comment
        helper(x) := upper(x)
        deny contains msg if {
            msg := sprintf("net.lookup_ip_addr(%s)", [helper("a")])
            helpers.fn(1)
            not regex.match(`crypto.sha256(x)`, msg)
        }
        """
    )
    calls = function_calls(source, frozenset({"helper", "deny"}))
    assert calls == [("upper", 4), ("sprintf", 6), ("regex.match", 8)]


def policy(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "p.rego"
    path.write_text(f"package gk.probe\n\ndeny contains msg if {{\n{body}\n}}\n", "utf-8")
    return path


def test_builtin_calls_name_file_and_line(tmp_path: Path) -> None:
    bundle = load_bundle([str(policy(tmp_path, '    crypto.sha256("x") == "y"\n    msg := "m"'))])
    [call] = builtin_calls(bundle)
    assert (call.name, call.line) == ("crypto.sha256", 4)


@pytest.mark.parametrize("engine", ["regorus", "regopy"])
def test_http_send_is_refused_on_every_engine(tmp_path: Path, engine: str) -> None:
    # Before: regorus evaluated the call as undefined, the deny did not fire, exit 0.
    rego = policy(
        tmp_path, '    r := http.send({"method": "get", "url": "http://x"})\n    msg := "m"'
    )
    result = run_cli("gate", "run", "--engine", engine, "-p", str(rego), SBOM)
    assert result.code == EXIT_ENGINE, (result.stdout, result.stderr)
    assert "p.rego:4: http.send reaches the network" in result.stderr
    assert "Traceback" not in result.stderr


def test_allowed_network_builtin_is_still_refused_where_unimplemented(tmp_path: Path) -> None:
    rego = policy(tmp_path, '    net.lookup_ip_addr("example.com")\n    msg := "m"')
    (tmp_path / "gatekeeper.yaml").write_text("allow_network_builtins: true\n", "utf-8")
    result = run_cli("gate", "run", "--engine", "regorus", "-p", str(rego), SBOM, cwd=tmp_path)
    assert result.code == EXIT_ENGINE, (result.stdout, result.stderr)
    assert "net.lookup_ip_addr is an OPA builtin that the regorus engine does not implement" in (
        result.stderr
    )


def test_builtin_missing_on_one_engine_is_refused_only_there(tmp_path: Path) -> None:
    rego = policy(tmp_path, '    crypto.sha256("x") != "y"\n    msg := "hashed"')
    on_regorus = run_cli("gate", "run", "--engine", "regorus", "-p", str(rego), SBOM)
    assert on_regorus.code == EXIT_ENGINE
    assert "p.rego:4: crypto.sha256 is an OPA builtin that the regorus engine" in (
        on_regorus.stderr
    )
    on_regopy = run_cli("gate", "run", "--engine", "regopy", "-p", str(rego), SBOM)
    assert on_regopy.code == 1, on_regopy.stderr  # implemented there: the deny fires


def test_network_builtins_are_known_opa_builtins() -> None:
    assert builtin_names("opa") >= NETWORK_BUILTINS
