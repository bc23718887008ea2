"""The permission to deploy: the newest gate decision for the artifact digest must have passed
in an intact ledger (:func:`~gatekeeper.ledger.deployments.find_gate_approval`) — or, with
``GATEKEEPER_SERVER`` set, as the decision service proves it
(:func:`~gatekeeper.ledger.deployments.service_gate_approval`) — and the deploy-time policies
(GK-REL-*) must pass for the environment. A refusal is exit 1.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gatekeeper.deploy.atomic import write_json_atomic
from gatekeeper.deploy.context import DEPLOY_NAMESPACES, DeployRequest, ServiceContext
from gatekeeper.deploy.state import state_dir
from gatekeeper.errors import EXIT_FAIL, GatekeeperError, InputError
from gatekeeper.gate.decide import DecideOptions, decide
from gatekeeper.gate.run import load_gate_bundle, load_gate_waivers, release_gate_input
from gatekeeper.ledger.deployments import (
    GateApproval,
    find_gate_approval,
    service_gate_approval,
)
from gatekeeper.ledger.remote import SERVER_ENV
from gatekeeper.ledger.signing import load_public_key_id, signer_from_env
from gatekeeper.ledger.store import LedgerMissing
from gatekeeper.model import Decision, Release


class DeployRefused(GatekeeperError):
    """The release may not be deployed: no passing, authentic gate decision for its artifact,
    a deploy-time policy said no, or its code is not what the gate judged. Exit 1."""

    exit_code = EXIT_FAIL


@dataclass(frozen=True)
class PolicyCheck:
    """The deploy-time policies' result for this environment."""

    outcome: str  # pass | warn | fail
    rules: int
    violations: tuple[str, ...]  # "GK-REL-003: message"
    waived: tuple[str, ...]
    decision: Decision | None  # None: not evaluated again (a resumed rollout)

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "outcome": self.outcome,
            "rules": self.rules,
            "violations": list(self.violations),
            "waived": list(self.waived),
        }
        if self.decision is not None:
            summary["bundle_digest"] = self.decision.policy_bundle.digest
            summary["engine"] = self.decision.engine.model_dump(mode="json")
        return summary


def evaluate_deploy_policies(
    context: ServiceContext, release: Release, environment: str
) -> PolicyCheck:
    """GK-REL-* for ``environment``, through the gate's own engine, bundle, data, waivers."""
    config = context.gate_config
    staged = release.model_copy(update={"environment": environment})
    now = datetime.now(UTC)
    # Waivers first, as in `gate run`: a malformed waivers file is bad input, not a policy error.
    waivers = load_gate_waivers(
        config.waivers, cwd=context.service_dir, max_days=config.max_waiver_days, now=now
    )
    gate_input = release_gate_input(staged, now=now, env=context.env)
    bundle = load_gate_bundle(
        tuple(str(p) for p in config.policies), tuple(str(p) for p in config.data)
    )
    decision = decide(
        gate_input,
        bundle,
        waivers,
        DecideOptions(
            engine=config.engine,
            namespaces=DEPLOY_NAMESPACES,
            fail_on=config.fail_on,
            timeout=config.engine_timeout,
            now=now,
            # the same refusal of network builtins as the gate run (config may allow them);
            # no evidence requirement: deploy-time policies judge the release alone
            allow_network_builtins=config.allow_network_builtins,
        ),
    )
    return PolicyCheck(
        outcome=decision.outcome.value,
        rules=decision.summary.rules,
        violations=tuple(f"{v.policy}: {v.message}" for v in decision.violations),
        waived=tuple(f"{w.violation.policy}: {w.waiver.id}" for w in decision.waived),
        decision=decision,
    )


def _trusted_key_ids(request: DeployRequest, env: Mapping[str, str]) -> list[str] | None:
    """Which signers a decision must carry: --trusted-key files, and the public half of
    GATEKEEPER_LEDGER_KEY (the key this installation signs with). None: signatures are
    checked where present but not required."""
    ids = [load_public_key_id(path) for path in request.trusted_keys]
    signer = signer_from_env(env)
    if signer is not None:
        ids.append(signer.key_id)
    return ids or None


LEDGER_CHECKPOINT_FILE = "ledger-checkpoint.json"


def gate_approval(
    request: DeployRequest, context: ServiceContext, digest: str, *, service: str | None = None
) -> GateApproval:
    """The permission from the ledger. With ``service``, the head the last allowed deployment
    saw (``ledger-checkpoint.json`` in the service's deploy state) must still be in the
    ledger — a ledger cut back past it, even with its head row rewritten to match, is
    refused — and every real (not dry-run) check of an intact ledger remembers its head, a
    refusal too: a failing decision seen once cannot be cut away unnoticed later."""
    server = context.env.get(SERVER_ENV, "").strip()
    if server:  # the decision service holds the record: ask it, verify what it says
        return service_gate_approval(server, digest, env=context.env, cwd=context.service_dir)
    checkpoint = (
        state_dir(context.service_dir, service) / LEDGER_CHECKPOINT_FILE if service else None
    )
    anchor = _read_checkpoint(checkpoint) if checkpoint is not None else None
    try:
        store = context.open_ledger(create=False)
    except LedgerMissing as exc:
        if anchor is not None:
            return GateApproval(
                False,
                f"no ledger at {exc.path}, but deployments were allowed from one before "
                f"(head {anchor}): it was removed",
            )
        return GateApproval(False, f"no ledger at {exc.path}: no gate decision is recorded")
    try:
        approval = find_gate_approval(
            store,
            digest,
            trusted_key_ids=_trusted_key_ids(request, context.env),
            anchor=anchor,
            cache_dir=context.service_dir,
        )
        head = store.head()
        if approval.ledger_intact and checkpoint is not None and head and not request.dry_run:
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(checkpoint, {"head": head.hash, "seq": head.seq})
        return approval
    finally:
        store.close()


def _read_checkpoint(path: Path) -> str | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InputError(f"not a valid ledger checkpoint: {exc}", path=str(path)) from None
    head = value.get("head") if isinstance(value, dict) else None
    if not isinstance(head, str):
        raise InputError("not a valid ledger checkpoint: no head hash", path=str(path))
    return head
