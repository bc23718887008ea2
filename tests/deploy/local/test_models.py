"""Strategies and the service deploy config as data; the state file on disk."""

from __future__ import annotations

import json
import stat

import pytest
from pydantic import ValidationError

from gatekeeper.deploy.execution_plan import describe_strategy
from gatekeeper.deploy.service_config import load_service_deploy_config
from gatekeeper.deploy.state import DeploymentState, Phase, load_state, save_state, state_dir
from gatekeeper.deploy.strategy import (
    Analysis,
    BlueGreenStrategy,
    CanaryStrategy,
    Pause,
    SetWeight,
    default_strategy,
)
from gatekeeper.errors import ConfigError, InputError

GOOD = """\
policies: [policy/]
deploy:
  start: [python, -m, app]
  health_path: /ready
  replicas: 3
  strategy:
    kind: canary
    steps:
      - setWeight: 10
      - pause: {duration: 30}
      - analysis: {interval: 60, max_inconclusive: 2}
      - pause: {}
"""


def test_service_config_reads_the_deploy_section(tmp_path):
    path = tmp_path / "gatekeeper.yaml"
    path.write_text(GOOD)
    config = load_service_deploy_config(path)
    assert config.start == ("python", "-m", "app")
    assert (config.port_env, config.health_path, config.replicas) == ("PORT", "/ready", 3)
    assert isinstance(config.strategy, CanaryStrategy)
    steps = config.strategy.steps
    assert isinstance(steps[0], SetWeight) and steps[0].set_weight == 10
    assert isinstance(steps[1], Pause) and steps[1].pause.duration == 30
    assert isinstance(steps[2], Analysis) and steps[2].analysis.max_inconclusive == 2
    assert isinstance(steps[3], Pause) and steps[3].pause.duration is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("deploy:\n  start: python app.py\n", "deploy.start: expected a list of arguments"),
        ("deploy:\n  start: [x]\n  replicas: 0\n", "deploy.replicas"),
        ("deploy:\n  start: [x]\n  port_env: 'A B'\n", "environment variable name"),
        ("deploy:\n  start: [x]\n  strategy: {kind: canary, steps: [{setWeight: 101}]}\n", "101"),
        ("deploy:\n  start: [x]\n  strategy: {kind: canary, steps: [{pause: {}}]}\n", "setWeight"),
        ("deploy:\n  start: [x]\n  strat: {}\n", "strat"),
        ("policies: []\n", "no 'deploy' section"),
    ],
)
def test_bad_deploy_config_is_one_line_input_error(tmp_path, text, message):
    path = tmp_path / "gatekeeper.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_service_deploy_config(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    assert caught.value.exit_code == 2


def test_default_strategies_and_typos():
    assert default_strategy("blue-green").kind == "blue-green"
    canary = default_strategy("canary")
    assert isinstance(canary, CanaryStrategy) and len(canary.steps) == 4
    with pytest.raises(ValueError, match="unknown strategy"):
        default_strategy("big-bang")
    with pytest.raises(ValidationError):
        CanaryStrategy.model_validate({"steps": [{"setWeigth": 10}]})


def test_state_is_written_atomically_and_read_back(tmp_path):
    directory = state_dir(tmp_path, "svc")
    saved = save_state(directory, DeploymentState(service="svc", phase=Phase.PAUSED))
    assert load_state(directory, "svc") == saved
    data = json.loads((directory / "state.json").read_text())
    assert data["schema"] == "gatekeeper.deploy-state/v1" and data["phase"] == "paused"
    assert [p.name for p in directory.iterdir()] == ["state.json"]  # no temp file left
    assert stat.S_IMODE((directory / "state.json").stat().st_mode) == 0o644


def test_bad_state_and_names_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="service name"):
        state_dir(tmp_path, "../etc")
    directory = state_dir(tmp_path, "svc")
    directory.mkdir(parents=True)
    (directory / "state.json").write_text("{not json")
    with pytest.raises(InputError, match="not a valid deployment state"):
        load_state(directory, "svc")
    assert load_state(state_dir(tmp_path, "other"), "other") is None


def test_the_blue_green_plan_says_how_green_is_judged_on_each_kind_of_target():

    strategy = BlueGreenStrategy()
    assert strategy.pre_switch and strategy.verify  # verified before and after by default
    mirrored = "\n".join(describe_strategy(strategy, replicas=2, first=False, mirrors=True))
    assert "analysis before the switch: green on copies of blue's GET/HEAD" in mirrored
    assert "against blue answering copies of green's GET/HEAD requests" in mirrored
    plain = "\n".join(describe_strategy(strategy, replicas=2, first=False, mirrors=False))
    assert "before the switch: skipped (this target cannot mirror traffic)" in plain
    assert "after the switch against blue's window just before it" in plain


def test_the_canary_plan_says_what_the_canary_is_judged_against():
    strategy = default_strategy("canary")
    assert isinstance(strategy, CanaryStrategy) and strategy.baseline == "fresh"
    fresh = "\n".join(describe_strategy(strategy, replicas=4, first=False, fresh_baseline=True))
    assert "a fresh baseline of 1 worker(s) of the stable version" in fresh
    assert "1. setWeight 10 % (fresh baseline 10 %, stable 80 %)" in fresh
    assert "3. setWeight 50 % (fresh baseline 50 %, stable 0 %)" in fresh
    assert "old version and fresh baseline drained" in fresh
    plain = "\n".join(describe_strategy(strategy, replicas=4, first=False))
    assert "judged against the running stable workers" in plain
    assert "(this target cannot start one)" in plain
    opted = strategy.model_copy(update={"baseline": "stable"})
    text = "\n".join(describe_strategy(opted, replicas=4, first=False, fresh_baseline=True))
    assert "running stable workers, not a fresh baseline\n" in text + "\n"
    assert "fresh baseline 10 %" not in text
