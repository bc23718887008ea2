"""Paths shared by the policy command tests."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LIBRARY = REPO / "policies"
EVIDENCE = sorted((REPO / "examples" / "evidence").glob("*.json"))
RELEASE = REPO / "examples" / "release.yaml"
