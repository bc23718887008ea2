from __future__ import annotations

import pytest

from gatekeeper.errors import EXIT_INPUT, ConfigError
from gatekeeper.report.registry import DEFAULT_FORMAT, REPORTERS, get_reporter
from tests.report import report_samples as samples


def test_every_documented_format_is_registered_under_its_own_name() -> None:
    assert sorted(REPORTERS) == ["github", "json", "junit", "markdown", "sarif", "table"]
    assert DEFAULT_FORMAT in REPORTERS
    for name in REPORTERS:
        reporter = REPORTERS.create(name)
        assert reporter.name == name
        assert reporter.description


def test_unknown_format_is_a_usage_error_naming_the_choices() -> None:
    with pytest.raises(ConfigError) as caught:
        get_reporter("html5")
    assert caught.value.exit_code == EXIT_INPUT
    assert "html5" in str(caught.value)
    assert "sarif" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", sorted(REPORTERS))
@pytest.mark.parametrize("case", sorted(samples.ALL))
def test_every_format_renders_every_outcome_as_text_ending_in_newline(name: str, case: str) -> None:
    text = get_reporter(name).render(samples.ALL[case]())
    assert text.endswith("\n")
    assert text.strip()


@pytest.mark.parametrize("name", sorted(set(REPORTERS) - {"table"}))
def test_only_the_terminal_format_ever_emits_ansi_colour(name: str) -> None:
    text = get_reporter(name).render(samples.failing(), color=True)
    assert "\x1b[" not in text
