"""Assemble the gate input document from merged evidence, release metadata and context."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gatekeeper.errors import InputError
from gatekeeper.evidence import MergedEvidence
from gatekeeper.gate.requirements import present_evidence_kinds
from gatekeeper.loading import load_yaml_file
from gatekeeper.model import CiContext, Context, GateInput, Release

# Release files are small hand-written metadata; anything bigger is a mistake.
MAX_RELEASE_BYTES = 1 << 20


def load_release(path: Path) -> Release:
    """Read ``--release FILE`` (YAML or JSON) into a Release."""
    document, _lines = load_yaml_file(
        path, display=str(path), error=InputError, max_bytes=MAX_RELEASE_BYTES
    )
    if not isinstance(document, dict):
        raise InputError("release file must be a mapping of fields", path=str(path))
    # Accept `release:` as a wrapper so a release file can share a document with other data.
    if set(document) == {"release"} and isinstance(document["release"], dict):
        document = document["release"]
    try:
        return Release.model_validate(_stringify_scalars(document))
    except ValidationError as exc:
        first = exc.errors()[0]
        pointer = "/" + "/".join(str(p) for p in first["loc"])
        raise InputError(f"{first['msg']} at {pointer}", path=str(path)) from None


def _stringify_scalars(document: dict[str, Any]) -> dict[str, Any]:
    # YAML turns `version: 1.10` into a float and dates into date objects; release identity
    # fields are strings, so keep what the author wrote rather than failing on it.
    out: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = str(value)
        elif hasattr(value, "isoformat"):
            out[key] = value.isoformat()
        else:
            out[key] = value
    return out


_CI_PROVIDERS: tuple[tuple[str, str, dict[str, str]], ...] = (
    (
        "GITHUB_ACTIONS",
        "github-actions",
        {
            "run_id": "GITHUB_RUN_ID",
            "actor": "GITHUB_ACTOR",
            "repository": "GITHUB_REPOSITORY",
            "ref": "GITHUB_REF",
            "sha": "GITHUB_SHA",
        },
    ),
    (
        "GITLAB_CI",
        "gitlab-ci",
        {
            "run_id": "CI_PIPELINE_ID",
            "actor": "GITLAB_USER_LOGIN",
            "repository": "CI_PROJECT_PATH",
            "ref": "CI_COMMIT_REF_NAME",
            "sha": "CI_COMMIT_SHA",
        },
    ),
)


def ci_context(env: Mapping[str, str]) -> CiContext:
    """CI identity from the environment, when the gate runs in a known CI."""
    for marker, provider, fields in _CI_PROVIDERS:
        if env.get(marker):
            return CiContext(
                provider=provider, **{k: env.get(v) or None for k, v in fields.items()}
            )
    if env.get("CI"):
        return CiContext(provider="ci")
    return CiContext()


def build_gate_input(
    evidence: MergedEvidence,
    *,
    release: Release,
    now: datetime,
    env: Mapping[str, str],
) -> GateInput:
    gate_input = GateInput(
        release=release,
        components=evidence.components,
        vulnerabilities=evidence.vulnerabilities,
        findings=evidence.findings,
        sbom=evidence.sbom,
        attestations=evidence.attestations,
        context=Context(time=rfc3339(now), ci=ci_context(env)),
        evidence=evidence.refs,
    )
    return gate_input.model_copy(update={"evidence_kinds": present_evidence_kinds(gate_input)})


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256_text(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
