"""The crash-recovery rule, decided once for every target: each phase a dead deployer can
leave behind, with every combination of the facts the decision reads."""

from __future__ import annotations

import pytest

from gatekeeper.deploy.recovery import RecoveryAction, RecoveryFacts, decide
from gatekeeper.deploy.state import Phase

COMPLETE, REVERT, RECONCILE, LEAVE = (
    RecoveryAction.COMPLETE,
    RecoveryAction.REVERT,
    RecoveryAction.RECONCILE,
    RecoveryAction.LEAVE,
)

# phase -> {(canary recorded, canary ready): action}
TABLE: dict[Phase, dict[tuple[bool, bool], RecoveryAction]] = {
    # Waiting for an operator on purpose: never touched.
    Phase.PAUSED: {(True, True): LEAVE, (True, False): LEAVE, (False, False): LEAVE},
    # The verdict was pass: finish the promotion — unless no canary worker is left to finish
    # it with. No canary recorded: the pools were swapped already, only the old pool's
    # removal was unfinished.
    Phase.PROMOTING: {(True, True): COMPLETE, (True, False): REVERT, (False, False): COMPLETE},
    # Never judged good (or already on its way back): the stable version is the last good.
    Phase.PROGRESSING: {(True, True): REVERT, (True, False): REVERT, (False, False): REVERT},
    Phase.ROLLING_BACK: {(True, True): REVERT, (True, False): REVERT, (False, False): REVERT},
    # Settled: a canary still recorded is a leftover and goes; otherwise hold the settled state.
    Phase.STABLE: {(True, True): REVERT, (True, False): REVERT, (False, False): RECONCILE},
    Phase.IDLE: {(True, True): REVERT, (True, False): REVERT, (False, False): RECONCILE},
}


def test_the_table_covers_every_phase() -> None:
    assert set(TABLE) == set(Phase)


@pytest.mark.parametrize(
    ("phase", "recorded", "ready", "expected"),
    [
        (phase, recorded, ready, action)
        for phase, row in TABLE.items()
        for (recorded, ready), action in row.items()
    ],
)
def test_recovery_decision(
    phase: Phase, recorded: bool, ready: bool, expected: RecoveryAction
) -> None:
    assert decide(RecoveryFacts(phase, recorded, ready)) == expected


@pytest.mark.parametrize("phase", list(Phase))
def test_a_ready_pool_without_a_canary_release_decides_as_no_canary(phase: Phase) -> None:
    # "ready" without a recorded canary cannot happen on a target, but must not change a thing.
    assert decide(RecoveryFacts(phase, False, True)) == decide(RecoveryFacts(phase, False, False))
