"""Command-line interface: a thin click layer over the core.

Commands parse options, call the core, and turn its result into output and an exit code. Every
error of the project's family becomes one line on stderr and its documented exit code; anything
else is an internal error, exit 3 — a gate never passes because something went wrong.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

from gatekeeper import __version__
from gatekeeper.cli.options import silence_stdout
from gatekeeper.errors import EXIT_ENGINE, EXIT_FAIL, GatekeeperError


def _report_error(error: GatekeeperError) -> None:
    click.echo(f"gatekeeper: error: {error.one_line()}", err=True)
    for extra in getattr(error, "errors", [])[1:]:
        line = extra.one_line() if isinstance(extra, GatekeeperError) else str(extra)
        click.echo(f"gatekeeper: error: {line}", err=True)


class GatekeeperGroup(click.Group):
    """Routes the project's errors to one-line messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GatekeeperError as error:
            _report_error(error)
            ctx.exit(error.exit_code)
        except BrokenPipeError:
            # The reader stopped reading (`| head`): nothing to report, and no traceback. Read
            # -only commands treat it as success themselves; anything else must not end in 0
            # (a gate whose output was cut off has not passed).
            silence_stdout()
            ctx.exit(EXIT_FAIL)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as error:
            if os.environ.get("GATEKEEPER_DEBUG"):
                traceback.print_exc()
            first = str(error).splitlines()[0] if str(error) else ""
            click.echo(
                f"gatekeeper: internal error: {type(error).__name__}: {first} "
                "(set GATEKEEPER_DEBUG=1 for a traceback)",
                err=True,
            )
            ctx.exit(EXIT_ENGINE)


@click.group(cls=GatekeeperGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gatekeeper")
def main() -> None:
    """Gatekeeper: policy-as-code release gate.

    Exit codes of gate-like commands: 0 pass, 1 the policy said no, 2 bad usage or bad input,
    3 policy or engine error.
    """


def _register() -> None:
    """One command group per module; imported here so `--help` lists them all."""
    from gatekeeper.cli.audit import audit  # decision ledger and compliance (docs/ledger.md)
    from gatekeeper.cli.check import check  # conftest compatibility (docs/conftest-compat.md)
    from gatekeeper.cli.conftest import conftest_group  # conftest test|verify|parse
    from gatekeeper.cli.deploy import deploy_group  # progressive delivery (docs/deployer.md)
    from gatekeeper.cli.evidence import evidence
    from gatekeeper.cli.gate import gate
    from gatekeeper.cli.impact import impact_command
    from gatekeeper.cli.pipeline import pipeline  # local pipeline runs (docs/templates.md)
    from gatekeeper.cli.policy import (
        policy,
    )  # test/lint/bundle/list/explain (docs/policy-commands.md)
    from gatekeeper.cli.scaffold import scaffold  # golden-path templates (docs/templates.md)
    from gatekeeper.cli.serve import serve  # the decision service (docs/server.md)

    policy.add_command(impact_command)  # `policy impact`: replay history on a candidate bundle
    commands = (gate, check, conftest_group, evidence, policy, audit, scaffold, pipeline)
    for command in (*commands, deploy_group, serve):
        main.add_command(command)


_register()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
