"""Report formats by name: the CLI offers ``click.Choice(sorted(REPORTERS))``."""

from __future__ import annotations

from gatekeeper.errors import ConfigError
from gatekeeper.registry import Registry
from gatekeeper.report.github import GithubReporter
from gatekeeper.report.interface import Reporter
from gatekeeper.report.json_doc import JsonReporter
from gatekeeper.report.junit import JunitReporter
from gatekeeper.report.markdown import MarkdownReporter
from gatekeeper.report.sarif import SarifReporter
from gatekeeper.report.table import TableReporter

DEFAULT_FORMAT = "table"

REPORTERS: Registry[Reporter] = Registry("report format", error=ConfigError, default=DEFAULT_FORMAT)
for _cls in (
    TableReporter,
    JsonReporter,
    SarifReporter,
    JunitReporter,
    MarkdownReporter,
    GithubReporter,
):
    REPORTERS.register(_cls.name, _cls)


def get_reporter(name: str) -> Reporter:
    """A ready renderer for ``name``; an unknown name is a usage error (exit 2)."""
    return REPORTERS.create(name)
