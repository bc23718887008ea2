"""The example releases under examples/releases/: what each one is and what it must show.

Each scenario directory holds a ``scenario.yaml`` (story, release file, data files, evidence
files, expected policy ids per level) next to its evidence. ``materialize`` copies one into a
temporary directory, ready for ``gatekeeper gate run``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import EXAMPLES

RELEASES = EXAMPLES / "releases"


@dataclass(frozen=True)
class Scenario:
    name: str
    release: str
    data: tuple[str, ...]
    evidence: tuple[str, ...]
    fresh_sbom: bool
    outcome: str
    deny: frozenset[str]
    warn: frozenset[str]


def load_scenarios() -> list[Scenario]:
    scenarios = []
    for path in sorted(RELEASES.glob("*/scenario.yaml")):
        doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        expect = doc["expect"]
        scenarios.append(
            Scenario(
                name=path.parent.name,
                release=doc["release"],
                data=tuple(doc.get("data", [])),
                evidence=tuple(doc["evidence"]),
                fresh_sbom=bool(doc.get("fresh_sbom", False)),
                outcome=expect["outcome"],
                deny=frozenset(expect.get("deny") or []),
                warn=frozenset(expect.get("warn") or []),
            )
        )
    return scenarios


def materialize(scenario: Scenario, into: Path, now: datetime | None = None) -> Path:
    """Copy the examples (shared settings included) into ``into``; return the scenario dir.

    With ``fresh_sbom``, the SBOM timestamps are set to a day before ``now``, as when the
    pipeline generates the SBOM in the same run as the gate: the SBOM-age policy (GK-SBOM-004)
    compares them with the time of the gate run, so shipped timestamps would go stale.
    """
    shutil.copytree(RELEASES, into / "releases")
    where = into / "releases" / scenario.name
    if scenario.fresh_sbom:
        moment = (now or datetime.now(UTC)) - timedelta(days=1)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        for name in scenario.evidence:
            path = where / name
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("bomFormat") == "CycloneDX":
                doc["metadata"]["timestamp"] = stamp
            elif "spdxVersion" in doc:
                doc["creationInfo"]["created"] = stamp
            else:
                continue
            path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return where


def gate_args(scenario: Scenario) -> list[str]:
    """The `gatekeeper gate run` arguments, relative to the scenario directory."""
    args = ["gate", "run", "--release", scenario.release, "--format", "json"]
    for data in scenario.data:
        args += ["--data", data]
    return args + list(scenario.evidence)
