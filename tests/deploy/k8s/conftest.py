from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deploy.k8s.fakeapi import FakeApiServer


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    fake = FakeApiServer().start()
    try:
        yield fake
    finally:
        fake.stop()
