"""``gatekeeper pipeline``: run a service's pipeline.yaml locally, with the stages of CI."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import click

from gatekeeper.pipeline.model import PIPELINE_FILE, Stage, load_pipeline
from gatekeeper.pipeline.runner import (
    OUT_DIR,
    PipelineResult,
    RunOptions,
    StageResult,
    StageStatus,
    run_pipeline,
)

_MARKS = {StageStatus.PASSED: "✓", StageStatus.FAILED: "✗", StageStatus.SKIPPED: "-"}
_COLORS = {StageStatus.PASSED: "green", StageStatus.FAILED: "red", StageStatus.SKIPPED: "yellow"}
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class PlainProgress:
    """One line per event: for logs and pipes."""

    def stage_started(self, stage: Stage, index: int, total: int) -> None:
        click.echo(f"[{index}/{total}] {stage.name}: started")

    def step_started(self, stage: Stage, argv: Sequence[str]) -> None:
        pass

    def stage_finished(self, result: StageResult) -> None:
        click.echo(f"      {result.name}: {result.status.value} ({result.seconds:.1f} s)")
        for note in result.notes:
            click.echo(f"      note: {note}")


class LiveProgress:
    """A spinner with the elapsed time on the current stage's line (terminals only)."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._label = ""

    def stage_started(self, stage: Stage, index: int, total: int) -> None:
        self._label = f"[{index}/{total}] {stage.name}"
        self._stop.clear()
        started = time.monotonic()

        def tick() -> None:
            frame = 0
            while not self._stop.wait(0.1):
                elapsed = time.monotonic() - started
                spin = _SPINNER[frame % len(_SPINNER)]
                click.echo(f"\r{spin} {self._label} {elapsed:5.1f} s", nl=False)
                frame += 1

        self._thread = threading.Thread(target=tick, daemon=True)
        self._thread.start()

    def step_started(self, stage: Stage, argv: Sequence[str]) -> None:
        pass

    def stage_finished(self, result: StageResult) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        mark = click.style(_MARKS[result.status], fg=_COLORS[result.status])
        click.echo(f"\r\x1b[2K{mark} {self._label} {result.status.value} ({result.seconds:.1f} s)")
        for note in result.notes:
            click.echo(f"    note: {note}")


@click.group()
def pipeline() -> None:
    """Run a service's pipeline (pipeline.yaml) locally."""


@pipeline.command("run")
@click.option(
    "-C",
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="The service directory (commands run there).",
)
@click.option(
    "-f",
    "--file",
    "pipeline_file",
    type=click.Path(dir_okay=False),
    help=f"Pipeline file. Default: {PIPELINE_FILE} in the service directory.",
)
@click.option("--until", metavar="STAGE", help="Stop after this stage (it is run).")
@click.option(
    "--online/--offline",
    default=False,
    help="Run stages that need the network (dependency scan). Default: offline, they are "
    "skipped and the gate judges without their evidence.",
)
@click.option("--list", "list_only", is_flag=True, help="List the stages and exit.")
def run(
    directory: str,
    pipeline_file: str | None,
    until: str | None,
    online: bool,
    list_only: bool,
) -> None:
    """Run the stages of pipeline.yaml in order, stopping at the first failure.

    Artefacts (SBOM, SAST results, decision, reports, logs) go to .gatekeeper/out/.
    Exit codes: 0 every stage passed; 1 a stage failed or the policy said no; 2 bad input;
    3 policy or engine error (from the gate stage).
    """
    root = Path(directory)
    spec = load_pipeline(Path(pipeline_file) if pipeline_file else root / PIPELINE_FILE)
    if list_only:
        for stage in spec.stages:
            extra = " (needs network)" if stage.network else ""
            click.echo(f"{stage.name}{extra}: {stage.description}".rstrip(": "))
        return
    live = sys.stdout.isatty() and not os.environ.get("CI")
    progress = LiveProgress() if live else PlainProgress()
    result = run_pipeline(root, spec, RunOptions(until=until, offline=not online), progress)
    _summarize(result, root)
    raise SystemExit(result.exit_code)


def _summarize(result: PipelineResult, root: Path) -> None:
    gate = next((s for s in result.stages if s.is_gate), None)
    failed = result.failed
    if gate is not None and gate is not failed:
        click.echo()
        click.echo(gate.output_tail)
    if failed is not None:
        click.echo()
        code = "could not run" if failed.exit_code is None else f"exit code {failed.exit_code}"
        click.echo(
            f"pipeline stopped at stage {failed.name!r}: {' '.join(failed.command)} ({code})"
        )
        if failed.output_tail:
            click.echo(failed.output_tail)
        if failed.log:
            click.echo(f"full output: {root / failed.log}")
        return
    ran = [s.name for s in result.stages if s.status is StageStatus.PASSED]
    skipped = [s.name for s in result.stages if s.status is StageStatus.SKIPPED]
    click.echo()
    click.echo(
        f"pipeline passed: {', '.join(ran) or 'nothing'}"
        + (f"; skipped: {', '.join(skipped)}" if skipped else "")
        + f". Artefacts in {root / OUT_DIR}/"
    )
