"""The one registry shape: order kept, unknown names are the axis's error, lazy imports."""

from __future__ import annotations

import sys

import pytest

from gatekeeper.errors import ConfigError, InputError
from gatekeeper.registry import Registry


def test_names_keep_registration_order_and_create_calls_the_factory() -> None:
    registry: Registry[str] = Registry("colour")
    registry.register("red", lambda: "#f00")
    registry.register("blue", lambda: "#00f")
    assert registry.names() == ["red", "blue"]
    assert list(registry) == ["red", "blue"] and len(registry) == 2
    assert "red" in registry and "green" not in registry
    assert registry.create("blue") == "#00f"


def test_unknown_name_is_one_line_of_the_axis_error_listing_the_known() -> None:
    registry: Registry[str] = Registry("colour", error=InputError, plural="colours")
    registry.register("red", lambda: "#f00")
    registry.register("blue", lambda: "#00f")
    with pytest.raises(InputError) as caught:
        registry.create("green")
    assert str(caught.value) == "unknown colour 'green'; known colours: blue, red"


def test_default_error_is_a_usage_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown thing 'x'; known:$"):
        Registry[int]("thing").factory("x")


def test_registering_a_name_twice_is_a_programming_error() -> None:
    registry: Registry[int] = Registry("number")
    registry.register("one", lambda: 1)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register_lazy("one", "json:loads")


def test_lazy_factory_is_imported_only_when_asked_for() -> None:
    registry: Registry[object] = Registry("codec")
    registry.register_lazy("wave", "wave:open")
    sys.modules.pop("wave", None)
    assert registry.names() == ["wave"]
    assert "wave" not in sys.modules
    import wave

    assert registry.factory("wave") is wave.open


def test_every_axis_uses_the_shared_registry() -> None:
    from gatekeeper.deploy.target import TARGETS
    from gatekeeper.deploy.verify.sources.registry import SOURCES
    from gatekeeper.evidence import READERS
    from gatekeeper.ledger.registry import STORES
    from gatekeeper.ledger.report_render import RENDERERS
    from gatekeeper.policy.engines.registry import ENGINES
    from gatekeeper.report.registry import REPORTERS

    for registry in (TARGETS, SOURCES, READERS, STORES, RENDERERS, ENGINES, REPORTERS):
        assert isinstance(registry, Registry) and len(registry) >= 2
    assert TARGETS.names() == ["local", "kubernetes"]
