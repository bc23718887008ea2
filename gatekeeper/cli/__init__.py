"""Command-line interface: a thin click layer over the core.

Commands parse options, call the core, and turn its result into output and an exit code. Every
error of the project's family becomes one line on stderr and its documented exit code; anything
else is an internal error, exit 3 — a gate never passes because something went wrong.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from dataclasses import dataclass
from typing import Any

import click
from click.utils import make_default_short_help

from gatekeeper import __version__
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
            from gatekeeper.cli.options import silence_stdout

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


class LazyGroup(GatekeeperGroup):
    """The top-level group: each command's module is imported only when that command runs.

    ``gatekeeper --help`` and ``--version`` then import click and this module, nothing else
    (no pydantic models, engines, FastAPI or Jinja), so they answer in tens of milliseconds.
    The help line of each command comes from :data:`COMMANDS`; a test checks it against the
    command's own docstring.
    """

    def __init__(self, *args: Any, lazy: dict[str, LazyCommand], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(self.lazy[cmd_name].load(), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is not None:
                if loaded.hidden:
                    continue
                rows.append((name, loaded.get_short_help_str(limit)))
            else:
                rows.append((name, make_default_short_help(self.lazy[name].help, limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives (``module:attribute``) and the first paragraph of its help."""

    target: str
    help: str
    # Subcommands kept in modules of their own, added to the group when it loads.
    extra: tuple[str, ...] = ()

    def load(self) -> click.Command:
        command = _import_command(self.target)
        if isinstance(command, click.Group):
            for target in self.extra:
                sub = _import_command(target)
                if sub.name not in command.commands:
                    command.add_command(sub)
        return command


def _import_command(target: str) -> click.Command:
    module_name, _, attribute = target.partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command):  # pragma: no cover - a wrong table entry
        raise TypeError(f"{target} is not a click command")
    return command


# One command group per module (docs for each beside it).
COMMANDS: dict[str, LazyCommand] = {
    "gate": LazyCommand("gatekeeper.cli.gate:gate", "Run the gate on a release's evidence."),
    # conftest compatibility (docs/conftest-compat.md)
    "check": LazyCommand(
        "gatekeeper.cli.check:check",
        "Check configuration FILES (JSON/YAML, `-` for stdin, directories) against "
        "conftest-style policies: a drop-in for `conftest test`.",
    ),
    "conftest": LazyCommand(
        "gatekeeper.cli.conftest:conftest_group",
        "conftest's commands (test, verify, parse) on Gatekeeper's guarded engines.",
    ),
    "evidence": LazyCommand(
        "gatekeeper.cli.evidence:evidence", "Inspect evidence files and the gate input document."
    ),
    # test/lint/bundle/list/explain/impact (docs/policy-commands.md)
    "policy": LazyCommand(
        "gatekeeper.cli.policy:policy",
        "Work on policies: test, lint, bundle, list, explain.",
        # `policy impact`: replay history on a candidate bundle
        extra=("gatekeeper.cli.impact:impact_command",),
    ),
    # decision ledger and compliance (docs/ledger.md)
    "audit": LazyCommand(
        "gatekeeper.cli.audit:audit",
        "Verify, replay, report on and export recorded gate decisions.",
    ),
    # golden-path templates (docs/templates.md)
    "scaffold": LazyCommand(
        "gatekeeper.cli.scaffold:scaffold",
        "Golden-path templates: create services, keep them current, check they stay on the path.",
    ),
    # local pipeline runs (docs/templates.md)
    "pipeline": LazyCommand(
        "gatekeeper.cli.pipeline:pipeline", "Run a service's pipeline (pipeline.yaml) locally."
    ),
    # progressive delivery (docs/deployer.md)
    "deploy": LazyCommand(
        "gatekeeper.cli.deploy:deploy_group",
        "Deploy a gated release progressively, verify it, roll it back on its own.",
    ),
    # the decision service (docs/server.md)
    "serve": LazyCommand(
        "gatekeeper.cli.serve:serve",
        "Run the decision service (HTTP): judge submitted evidence, sign and record decisions "
        "in a Merkle log, answer for them. Refuses to start when its database no longer "
        "matches its last checkpoint.",
    ),
}


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="gatekeeper")
def main() -> None:
    """Gatekeeper: policy-as-code release gate.

    Exit codes of gate-like commands: 0 pass, 1 the policy said no, 2 bad usage or bad input,
    3 policy or engine error.
    """


def run() -> None:
    """The process entry point (the ``gatekeeper`` script, ``python -m gatekeeper``).

    After the command the process ends without the interpreter's teardown: exit handlers run
    (engine workers stopped, temporary files removed, logs flushed), stdout and stderr are
    flushed, then ``os._exit`` — freeing a large run's objects one by one cost ~0.14 s of a
    gate run's wall time. Objects alive after the imports are frozen out of the cyclic
    collector's passes (``gc.freeze``). When a thread other than daemons is still running, or
    flushing fails (a closed pipe: exit 120 as Python's own shutdown, never 0), the ordinary
    exit is used or its code kept.
    """
    import gc

    gc.freeze()
    try:
        main()
    except SystemExit as exc:
        code = exc.code
        if code is not None and not isinstance(code, int):
            raise  # a message to print: Python's own exit prints it
        _exit_now(code or 0)
    _exit_now(0)


# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2


def retain_freed_memory() -> None:
    """Keep memory the process frees for its next allocations instead of handing it back to
    the system (glibc, best effort; elsewhere nothing happens).

    A gate run allocates and frees many megabytes over and over (file contents, their text,
    the parsed documents, models, the input JSON); by default glibc trims the top of its heap
    as soon as 128 KiB are free, so the next allocations fault their pages in again. Page
    faults cost ~5-7 µs each on this project's 2-core machine: never trimming below 1 GiB
    and growing the heap 64 MiB at a time took ~20,000 faults out of a run at 20,000
    components and ~70,000 at 100,000. Peak RSS stays about the same: the process only
    reuses what it already had.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_TRIM_THRESHOLD, 1024 * 1024 * 1024)
    mallopt(_M_TOP_PAD, 64 * 1024 * 1024)


def _exit_now(code: int) -> None:
    import atexit
    import threading

    if any(t.is_alive() and not t.daemon for t in threading.enumerate()[1:]):
        sys.exit(code)  # someone is still working: let the interpreter wait for them
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        os._exit(code or 120)
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
