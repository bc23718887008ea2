"""Where the shared third-party corpus lives; tests skip cleanly without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CORPUS

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def corpus_file(relative: str) -> str:
    path = CORPUS / relative
    if not path.is_file():
        pytest.skip(f"shared corpus file {relative} is not available")
    return str(path)


def fixture(name: str) -> str:
    return str(FIXTURES / name)
