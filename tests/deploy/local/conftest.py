from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gatekeeper.deploy.local.target import LocalTarget
from tests.deploy.local.helpers import service_config


@pytest.fixture
def target(tmp_path: Path) -> Iterator[LocalTarget]:
    local = LocalTarget("svc", service_config(), root=tmp_path)
    try:
        yield local
    finally:
        local.teardown()
        local.close()
