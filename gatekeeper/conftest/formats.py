"""conftest's machine-readable output formats beyond stdout/json/table (conftest ``output/``):
``tap``, ``junit``, ``github``, ``azuredevops`` and ``sarif``, one function each, registered by
name. They take conftest's result shape (:class:`gatekeeper.conftest.check.CheckReport`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from xml.sax.saxutils import escape, quoteattr

from gatekeeper.conftest.check import STDIN, CheckReport, CheckResult
from gatekeeper.errors import ConfigError
from gatekeeper.registry import Registry

Renderer = Callable[[CheckReport], str]
EXTRA_OUTPUTS: Registry[Renderer] = Registry("output format", error=ConfigError)


def _indicator(result: CheckResult) -> str:
    return "-" if result.filename == STDIN else f"- {result.filename}"


def render_tap(report: CheckReport) -> str:
    """output/tap.go: one plan per file and namespace, failures, warnings, exceptions, passes."""
    lines: list[str] = []
    for result in report.results:
        if not result.tests:
            continue
        ind, ns = _indicator(result), f"- {result.namespace} -"
        lines.append(f"1..{result.tests}")
        counter = 1
        for message in result.failures:
            lines.append(f"not ok {counter} {ind} {ns} {message.msg}")
            counter += 1
        for title, messages, verdict in (
            ("# warnings", result.warnings, "not ok"),
            ("# exceptions", result.exceptions, "ok"),
        ):
            if messages:
                lines.append(title)
                for message in messages:
                    lines.append(f"{verdict} {counter} {ind} {ns} {message.msg}")
                    counter += 1
        if result.successes:
            lines.append("# successes")
            for _ in range(result.successes):
                lines.append(f"ok {counter} {ind} {ns} SUCCESS")
                counter += 1
    return "\n".join(lines) + ("\n" if lines else "")


def render_junit(report: CheckReport) -> str:
    """output/junit.go: one testsuite, a testcase per result, failures as <failure>."""
    cases: list[str] = []
    for result in report.results:
        name = f"{result.filename} - {result.namespace}"
        for message in (*result.failures, *result.warnings):
            cases.append(
                f"\t\t<testcase classname={quoteattr('conftest')} "
                f'name={quoteattr(name + " - " + message.msg)} time="0.000">\n'
                f'\t\t\t<failure message={quoteattr(message.msg)} type="">'
                f"{escape(message.msg)}</failure>\n\t\t</testcase>"
            )
        for _ in range(result.successes):
            cases.append(
                f"\t\t<testcase classname={quoteattr('conftest')} name={quoteattr(name)} "
                'time="0.000"></testcase>'
            )
    failures = report.failures + report.warnings
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n'
        f'\t<testsuite tests="{report.tests}" failures="{failures}" time="0.000" '
        'name="conftest">\n' + "\n".join(cases) + "\n\t</testsuite>\n</testsuites>\n"
    )


def render_github(report: CheckReport) -> str:
    """output/github.go: workflow commands, grouped per file."""
    lines: list[str] = []
    for result in report.results:
        lines.append(
            f"::group::Testing '{result.filename}' against {result.tests} policies in "
            f"namespace '{result.namespace}'"
        )
        for level, messages in (("error", result.failures), ("warning", result.warnings)):
            for message in messages:
                lines.append(f"::{level} file={result.filename}::{message.msg}")
        for message in result.exceptions:
            lines.append(f"::notice file={result.filename}::{message.msg}")
        for _ in range(result.successes):
            lines.append(f"success file={result.filename} {result.successes}")
            break
        lines.append("::endgroup::")
    lines.append(
        f"{report.tests} tests, {report.successes} passed, {report.warnings} warnings, "
        f"{report.failures} failures, {report.exceptions} exceptions"
    )
    return "\n".join(lines) + "\n"


def render_azuredevops(report: CheckReport) -> str:
    """output/azuredevops.go: logging commands."""
    lines: list[str] = []
    for result in report.results:
        lines.append(
            f"##[section]Testing '{result.filename}' against {result.tests} policies "
            f"in namespace '{result.namespace}'"
        )
        for kind, messages in (("error", result.failures), ("warning", result.warnings)):
            for message in messages:
                lines.append(f"##vso[task.logissue type={kind}]{result.filename} - {message.msg}")
    return "\n".join(lines) + "\n"


def render_sarif(report: CheckReport) -> str:
    """output/sarif.go: SARIF 2.1.0, one rule per namespace and level."""
    results = []
    for result in report.results:
        for level, messages in (
            ("error", result.failures),
            ("warning", result.warnings),
            ("note", result.exceptions),
        ):
            for message in messages:
                query = str(message.metadata.get("query", result.namespace))
                results.append(
                    {
                        "ruleId": query,
                        "level": level,
                        "message": {"text": message.msg},
                        "locations": [
                            {"physicalLocation": {"artifactLocation": {"uri": result.filename}}}
                        ],
                    }
                )
    document = {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "conftest",
                        "informationUri": "https://github.com/open-policy-agent/conftest",
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


for _name, _renderer in (
    ("tap", render_tap),
    ("junit", render_junit),
    ("github", render_github),
    ("azuredevops", render_azuredevops),
    ("sarif", render_sarif),
):
    EXTRA_OUTPUTS.register(_name, (lambda r: lambda: r)(_renderer))
