from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from gatekeeper.config import GatekeeperConfig, load_config
from gatekeeper.errors import EXIT_INPUT, ConfigError
from gatekeeper.model import Level


def write_config(directory: Path, text: str, name: str = "gatekeeper.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def config_error(directory: Path, text: str | None = None, **kwargs: object) -> str:
    if text is not None:
        write_config(directory, text)
    env = kwargs.pop("env", {})
    path = kwargs.pop("path", None)
    with pytest.raises(ConfigError) as caught:
        load_config(path, cwd=directory, env=env)  # type: ignore[arg-type]
    assert caught.value.exit_code == EXIT_INPUT
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_no_file_gives_defaults(tmp_path: Path) -> None:
    config = load_config(None, cwd=tmp_path, env={})
    assert config == GatekeeperConfig()
    assert config.engine == "regorus"
    assert config.fail_on is Level.DENY
    assert config.max_waiver_days == 90
    assert config.config_path is None


def test_full_file_is_read_and_paths_resolve_against_its_directory(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    path = write_config(
        project,
        """\
        policies: [policy, /abs/policies]
        data: [data/allow.json]
        engine: regopy
        waivers: .gatekeeper/waivers.yaml
        max_waiver_days: 30
        fail_on: warn
        format: json
        outputs:
          sarif: out/gate.sarif
          junit: out/gate.xml
        namespaces: ["gatekeeper.*"]
        validate: true
        engine_timeout: 12.5
        release: release.yaml
        evidence: [sbom.cdx.json]
        """,
    )
    # Loaded from elsewhere: paths still resolve against the file's directory.
    config = load_config(path, cwd=tmp_path, env={})
    assert config.policies == (project / "policy", Path("/abs/policies"))
    assert config.data == (project / "data/allow.json",)
    assert config.engine == "regopy"
    assert config.waivers == project / ".gatekeeper/waivers.yaml"
    assert config.max_waiver_days == 30
    assert config.fail_on is Level.WARN
    assert config.format == "json"
    assert config.outputs == {
        "sarif": project / "out/gate.sarif",
        "junit": project / "out/gate.xml",
    }
    assert config.namespaces == ("gatekeeper.*",)
    assert config.validate_evidence is True
    assert config.engine_timeout == 12.5
    assert config.release == project / "release.yaml"
    assert config.evidence == (project / "sbom.cdx.json",)
    assert config.config_path == path


def test_finds_yml_in_cwd(tmp_path: Path) -> None:
    write_config(tmp_path, "engine: regopy\n", name="gatekeeper.yml")
    assert load_config(None, cwd=tmp_path, env={}).engine == "regopy"


def test_both_yaml_and_yml_is_ambiguous(tmp_path: Path) -> None:
    write_config(tmp_path, "engine: regopy\n", name="gatekeeper.yml")
    write_config(tmp_path, "engine: regorus\n")
    assert "both gatekeeper.yaml and gatekeeper.yml" in config_error(tmp_path)


def test_single_string_is_accepted_for_a_list(tmp_path: Path) -> None:
    write_config(tmp_path, "policies: policy\n")
    assert load_config(None, cwd=tmp_path, env={}).policies == (tmp_path / "policy",)


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    write_config(tmp_path, "# nothing yet\n")
    assert load_config(None, cwd=tmp_path, env={}).engine == "regorus"


def test_unknown_key_suggests_closest(tmp_path: Path) -> None:
    message = config_error(tmp_path, "fail_on: warn\nengin: regopy\n")
    assert message == "gatekeeper.yaml:2: unknown key 'engin' (did you mean 'engine'?)"


def test_unknown_key_without_close_match(tmp_path: Path) -> None:
    message = config_error(tmp_path, "zzzz: 1\n")
    assert message == "gatekeeper.yaml:1: unknown key 'zzzz'"


def test_config_path_is_not_a_file_key(tmp_path: Path) -> None:
    assert "unknown key 'config_path'" in config_error(tmp_path, "config_path: x\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max_waiver_days: ninety\n", "gatekeeper.yaml:1: max_waiver_days: "),
        ("max_waiver_days: '90'\n", "gatekeeper.yaml:1: max_waiver_days: "),
        ("max_waiver_days: 0\n", "gatekeeper.yaml:1: max_waiver_days: "),
        ("fail_on: never\n", "gatekeeper.yaml:1: fail_on: "),
        ("engine_timeout: -3\n", "gatekeeper.yaml:1: engine_timeout: "),
        ("validate: maybe\n", "gatekeeper.yaml:1: validate: "),
        ("engine: a\npolicies: [ok, 3]\n", "gatekeeper.yaml:2: policies[1]: "),
        ("outputs:\n  json: [a]\n", "gatekeeper.yaml:2: outputs.json: "),
        ("policies: ['']\n", "gatekeeper.yaml:1: policies: "),
        ("- engine: x\n", "gatekeeper.yaml:1: expected a mapping of settings"),
    ],
)
def test_wrong_types_name_the_key_path_and_line(tmp_path: Path, text: str, expected: str) -> None:
    assert config_error(tmp_path, text).startswith(expected)


def test_bad_yaml_reports_line(tmp_path: Path) -> None:
    message = config_error(tmp_path, "engine: regopy\nfail_on: [warn\nformat: json\n")
    assert message.startswith("gatekeeper.yaml:")
    assert "invalid YAML" in message
    line = int(message.split(":")[1])
    assert line >= 2


def test_duplicate_keys_are_rejected(tmp_path: Path) -> None:
    message = config_error(tmp_path, "fail_on: warn\nfail_on: deny\n")
    assert message == "gatekeeper.yaml:2: duplicate key 'fail_on'"


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    assert "config file not found" in config_error(tmp_path, path=Path("nope.yaml"))


def test_gatekeeper_config_env_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "ci").mkdir()
    write_config(tmp_path / "ci", "engine: regopy\npolicies: [p]\n", name="gate.yaml")
    write_config(tmp_path, "engine: regorus\n")  # ignored: GATEKEEPER_CONFIG wins
    config = load_config(None, cwd=tmp_path, env={"GATEKEEPER_CONFIG": "ci/gate.yaml"})
    assert config.engine == "regopy"
    assert config.policies == (tmp_path / "ci" / "p",)
    message = config_error(tmp_path, env={"GATEKEEPER_CONFIG": "missing.yaml"})
    assert "GATEKEEPER_CONFIG=missing.yaml" in message


def test_environment_applies_when_file_is_silent(tmp_path: Path) -> None:
    env = {
        "GATEKEEPER_ENGINE": "regopy",
        "GATEKEEPER_FAIL_ON": "WARN",
        "GATEKEEPER_FORMAT": "json",
        "GATEKEEPER_POLICY": os.pathsep.join(["p1", "/abs/p2", ""]),
        "GATEKEEPER_DATA": "d",
        "GATEKEEPER_WAIVERS": "w.yaml",
        "GATEKEEPER_MAX_WAIVER_DAYS": "30",
        "GATEKEEPER_ENGINE_TIMEOUT": "7.5",
    }
    config = load_config(None, cwd=tmp_path, env=env)
    assert config.engine == "regopy"
    assert config.fail_on is Level.WARN
    assert config.format == "json"
    assert config.policies == (tmp_path / "p1", Path("/abs/p2"))
    assert config.data == (tmp_path / "d",)
    assert config.waivers == tmp_path / "w.yaml"
    assert config.max_waiver_days == 30
    assert config.engine_timeout == 7.5


def test_precedence_defaults_env_file_flags(tmp_path: Path) -> None:
    write_config(tmp_path, "engine: regopy\n")
    env = {"GATEKEEPER_ENGINE": "from-env", "GATEKEEPER_FORMAT": "json"}
    config = load_config(None, cwd=tmp_path, env=env)
    assert config.engine == "regopy"  # file beats environment
    assert config.format == "json"  # environment beats default
    assert config.fail_on is Level.DENY  # default where nobody says otherwise

    flagged = config.with_overrides(engine="cli-engine", format=None, policies=(), fail_on="warn")
    assert flagged.engine == "cli-engine"  # flags beat the file
    assert flagged.format == "json"  # None means "flag not given"
    assert flagged.policies == ()  # an unused repeatable option (empty tuple) changes nothing
    assert flagged.fail_on is Level.WARN
    assert config.engine == "regopy"  # the original is unchanged (frozen)


def test_empty_environment_values_are_unset(tmp_path: Path) -> None:
    config = load_config(None, cwd=tmp_path, env={"GATEKEEPER_ENGINE": "", "GATEKEEPER_POLICY": ""})
    assert config.engine == "regorus"
    assert config.policies == ()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GATEKEEPER_FAIL_ON", "never"),
        ("GATEKEEPER_MAX_WAIVER_DAYS", "ninety"),
        ("GATEKEEPER_MAX_WAIVER_DAYS", "-1"),
        ("GATEKEEPER_ENGINE_TIMEOUT", "soon"),
        ("GATEKEEPER_ENGINE_TIMEOUT", "0"),
        ("GATEKEEPER_ENGINE_TIMEOUT", "inf"),
    ],
)
def test_bad_environment_values_name_the_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    message = config_error(tmp_path, env={variable: value})
    assert message.startswith(f"environment variable {variable}: ")


def test_with_overrides_validates_and_maps_validate_flag() -> None:
    config = GatekeeperConfig()
    assert config.with_overrides(validate=True).validate_evidence is True
    assert config.with_overrides(policies=("a", "b")).policies == (Path("a"), Path("b"))
    with pytest.raises(ConfigError, match="option fail_on: "):
        config.with_overrides(fail_on="sometimes")
    with pytest.raises(TypeError, match="unknown settings: enigne"):
        config.with_overrides(enigne="x")
