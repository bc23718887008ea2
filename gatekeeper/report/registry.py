"""Report formats by name: the CLI offers ``click.Choice(sorted(REPORTERS))``."""

from __future__ import annotations

from gatekeeper.errors import ConfigError
from gatekeeper.registry import Registry
from gatekeeper.report.interface import Reporter

DEFAULT_FORMAT = "table"

REPORTERS: Registry[Reporter] = Registry("report format", error=ConfigError, default=DEFAULT_FORMAT)
# Imported when asked for: a run renders one or two formats, and importing all of them (the
# XML, SARIF and GitHub writers ...) is start-up time every gate run would pay.
for _name, _target in (
    ("table", "gatekeeper.report.table:TableReporter"),
    ("json", "gatekeeper.report.json_doc:JsonReporter"),
    ("sarif", "gatekeeper.report.sarif:SarifReporter"),
    ("junit", "gatekeeper.report.junit:JunitReporter"),
    ("markdown", "gatekeeper.report.markdown:MarkdownReporter"),
    ("github", "gatekeeper.report.github:GithubReporter"),
):
    REPORTERS.register_lazy(_name, _target)


def get_reporter(name: str) -> Reporter:
    """A ready renderer for ``name``; an unknown name is a usage error (exit 2)."""
    return REPORTERS.create(name)
