"""Report formats by name: the CLI offers ``click.Choice(sorted(REPORTERS))``."""

from __future__ import annotations

from gatekeeper.errors import ConfigError
from gatekeeper.report.github import GithubReporter
from gatekeeper.report.interface import Reporter
from gatekeeper.report.json_doc import JsonReporter
from gatekeeper.report.junit import JunitReporter
from gatekeeper.report.markdown import MarkdownReporter
from gatekeeper.report.sarif import SarifReporter
from gatekeeper.report.table import TableReporter

DEFAULT_FORMAT = "table"

REPORTERS: dict[str, type[Reporter]] = {
    cls.name: cls
    for cls in (
        TableReporter,
        JsonReporter,
        SarifReporter,
        JunitReporter,
        MarkdownReporter,
        GithubReporter,
    )
}


def get_reporter(name: str) -> Reporter:
    """A ready renderer for ``name``; an unknown name is a usage error (exit 2)."""
    try:
        cls = REPORTERS[name]
    except KeyError:
        choices = ", ".join(sorted(REPORTERS))
        raise ConfigError(f"unknown report format {name!r}; choose one of: {choices}") from None
    return cls()
