"""Every `*_test.rego` of the built-in library passes on both embedded engines."""

from __future__ import annotations

import pytest

from gatekeeper.policy.bundle import builtin_policy_dir, load_bundle
from gatekeeper.policy.engines.registry import get_engine


@pytest.mark.parametrize("engine_name", ["regorus", "regopy"])
def test_library_policy_tests_pass(engine_name: str) -> None:
    bundle = load_bundle([str(builtin_policy_dir())])
    result = get_engine(engine_name).run_tests(bundle, timeout=600)
    failed = [f"{c.package}.{c.name}: {c.error}" for c in result.cases if not c.passed]
    assert failed == []
    # Each policy module has its tests (a module without them would pass vacuously).
    tested = {c.package.removesuffix("_test") for c in result.cases}
    policies = {m.package for m in bundle.modules if not m.is_test and m.metadata is not None}
    assert policies - tested == set()
    assert len(result.cases) >= 150
