"""``scaffold check``: golden-path conformance as Rego policies over the parsed CI files.

The built-in policies live in ``gatekeeper/scaffold/policies/`` (package data); platform teams
add their own with ``-p`` and tune the built-in ones with ``-d`` data (``settings.scaffold.*``),
exactly as for the gate. Evaluation is the gate's: same bundle loader, same engines and guards,
same rule conventions and exit codes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gatekeeper.gate.decide import DecideOptions, decide
from gatekeeper.model import Decision, Outcome
from gatekeeper.policy.bundle import load_bundle
from gatekeeper.policy.engines.interface import DEFAULT_TIMEOUT_S
from gatekeeper.policy.engines.registry import DEFAULT_ENGINE
from gatekeeper.scaffold.ci import conformance_document

CONFORMANCE_SCHEMA = "gatekeeper.scaffold-check/v1"


def builtin_conformance_dir() -> Path:
    return Path(__file__).resolve().parent / "policies"


@dataclass(frozen=True)
class CheckResult:
    document: dict[str, Any]
    decision: Decision  # no waivers: conformance is not waivable

    @property
    def outcome(self) -> Outcome:
        return self.decision.outcome

    def to_json(self) -> str:
        return json.dumps(
            {
                "schema": CONFORMANCE_SCHEMA,
                "outcome": self.outcome.value,
                "violations": [v.model_dump(mode="json") for v in self.decision.violations],
                "rules": [r.model_dump(mode="json") for r in self.decision.rules],
                "input": self.document,
            },
            indent=2,
        )


def check_service(
    root: Path,
    *,
    policies: Sequence[str] = (),
    data: Sequence[str] = (),
    builtin: bool = True,
    engine: str = DEFAULT_ENGINE,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> CheckResult:
    # Input first: a malformed CI file is bad input (exit 2), whatever the policies say.
    document = conformance_document(root)
    sources = [*([str(builtin_conformance_dir())] if builtin else []), *policies]
    bundle = load_bundle(sources, data_paths=data)
    decision = decide(document, bundle, (), DecideOptions(engine=engine, timeout=timeout))
    return CheckResult(document=document, decision=decision)
