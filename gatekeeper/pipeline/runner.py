"""Run a service's ``pipeline.yaml`` locally: stages in order, each step a subprocess.

- Steps run as argument lists (never a shell) in the service directory, with the directory of
  the running Python first on PATH so ``python``, ``semgrep``, ``cyclonedx-py`` and friends are
  the ones installed next to gatekeeper.
- Output of every stage goes to ``.gatekeeper/out/logs/<stage>.log``; a failed stage's output
  tail is in its result, for the CLI to show.
- The run stops at the first failed stage. Artefacts the stages declare (and the gate's
  reports) are deleted before the run, so a stale SBOM or decision from an earlier run can never
  reach the gate.
- ``network: true`` stages are skipped when offline. The gate then judges without their
  artefacts, and the skip is part of the result: nothing pretends a scan happened.
- The gate stage runs ``gatekeeper gate run`` with the same interpreter; its exit code is the
  gate's contract (0 pass, 1 the policy said no, 2 bad input, 3 policy/engine error).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from gatekeeper.errors import EXIT_ENGINE, EXIT_FAIL, EXIT_INPUT, EXIT_PASS, InputError
from gatekeeper.pipeline.model import GateSpec, PipelineSpec, Stage, Step

OUT_DIR = ".gatekeeper/out"
LOG_DIR = f"{OUT_DIR}/logs"
RUN_RECORD = f"{OUT_DIR}/pipeline-run.json"
OUTPUT_TAIL_LINES = 60
GATE_EXIT_CODES = (EXIT_FAIL, EXIT_INPUT, EXIT_ENGINE)
GATE_TIMEOUT_S = 600.0


class StageStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class StageResult:
    name: str
    status: StageStatus
    seconds: float = 0.0
    exit_code: int | None = None
    command: tuple[str, ...] = ()  # the failing (or last) command
    output_tail: str = ""
    log: str | None = None
    notes: tuple[str, ...] = ()
    is_gate: bool = False


@dataclass(frozen=True)
class PipelineResult:
    stages: tuple[StageResult, ...]
    planned: tuple[str, ...]  # stage names this run was asked to run
    offline: bool
    record: str = RUN_RECORD

    @property
    def failed(self) -> StageResult | None:
        return next((s for s in self.stages if s.status is StageStatus.FAILED), None)

    @property
    def exit_code(self) -> int:
        """0 when every stage run passed; a failed gate passes on the gate's own exit code
        (1 the policy said no, 2 bad input, 3 policy/engine error); any other failed stage: 1."""
        failed = self.failed
        if failed is None:
            return EXIT_PASS
        if failed.is_gate:
            return failed.exit_code if failed.exit_code in GATE_EXIT_CODES else EXIT_ENGINE
        return EXIT_FAIL


class Progress(Protocol):
    """What the runner reports as it goes; the CLI draws it."""

    def stage_started(self, stage: Stage, index: int, total: int) -> None: ...

    def step_started(self, stage: Stage, argv: Sequence[str]) -> None: ...

    def stage_finished(self, result: StageResult) -> None: ...


class _Silent:
    def stage_started(self, stage: Stage, index: int, total: int) -> None:
        pass

    def step_started(self, stage: Stage, argv: Sequence[str]) -> None:
        pass

    def stage_finished(self, result: StageResult) -> None:
        pass


@dataclass(frozen=True)
class RunOptions:
    until: str | None = None
    offline: bool = True
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    python: str = field(default_factory=lambda: sys.executable)


def tool_path(env: Mapping[str, str], python: str) -> str:
    """PATH with the running interpreter's directory first: its tools win."""
    bin_dir = str(Path(python).parent)
    rest = env.get("PATH", os.defpath)
    return os.pathsep.join([bin_dir, *[p for p in rest.split(os.pathsep) if p and p != bin_dir]])


def gate_argv(spec: GateSpec, evidence: Sequence[str], python: str) -> tuple[str, ...]:
    argv: list[str] = [python, "-m", "gatekeeper", "gate", "run", "--no-color"]
    if spec.release:
        argv += ["--release", spec.release]
    for fmt, path in spec.outputs.items():
        argv += ["--output", f"{fmt}={path}"]
    argv += [*spec.args, *evidence]
    return tuple(argv)


def planned_stages(spec: PipelineSpec, until: str | None) -> tuple[Stage, ...]:
    if until is None:
        return spec.stages
    names = spec.stage_names()
    if until not in names:
        raise InputError(f"--until {until!r}: no such stage (stages: {', '.join(names)})")
    return spec.stages[: names.index(until) + 1]


def _tail(text: str, lines: int = OUTPUT_TAIL_LINES) -> str:
    kept = text.splitlines()[-lines:]
    return "\n".join(kept)


def _clean_outputs(root: Path, stages: Sequence[Stage]) -> None:
    for stage in stages:
        paths = list(stage.artifacts)
        if stage.gate is not None:
            paths += list(stage.gate.outputs.values())
        for relative in paths:
            target = root / relative
            if target.is_file() or target.is_symlink():
                target.unlink()


class PipelineRunner:
    def __init__(self, root: Path, spec: PipelineSpec, options: RunOptions) -> None:
        self.root = root
        self.spec = spec
        self.options = options
        self.env = {**options.env, "PATH": tool_path(options.env, options.python)}

    def run(self, progress: Progress | None = None) -> PipelineResult:
        progress = progress or _Silent()
        stages = planned_stages(self.spec, self.options.until)
        (self.root / LOG_DIR).mkdir(parents=True, exist_ok=True)
        _clean_outputs(self.root, stages)
        skipped_artifacts: dict[str, str] = {}  # artefact -> stage that was skipped
        results: list[StageResult] = []
        for index, stage in enumerate(stages, start=1):
            progress.stage_started(stage, index, len(stages))
            if stage.network and self.options.offline:
                result = StageResult(
                    name=stage.name,
                    status=StageStatus.SKIPPED,
                    notes=(
                        "offline: this stage needs the network"
                        + (f" ({stage.description})" if stage.description else "")
                        + "; run with --online to include it",
                    ),
                )
                skipped_artifacts.update({a: stage.name for a in stage.artifacts})
            elif stage.gate is not None:
                result = self._run_gate(stage, stage.gate, skipped_artifacts, progress)
            else:
                result = self._run_steps(stage, progress)
            results.append(result)
            progress.stage_finished(result)
            if result.status is StageStatus.FAILED:
                break
        outcome = PipelineResult(
            stages=tuple(results),
            planned=tuple(s.name for s in stages),
            offline=self.options.offline,
        )
        self._write_record(outcome)
        return outcome

    def _log_path(self, stage: Stage) -> Path:
        return self.root / LOG_DIR / f"{stage.name}.log"

    def _exec(
        self, argv: Sequence[str], env: Mapping[str, str], timeout: float
    ) -> tuple[int | None, str]:
        """(exit code or None when it could not run, output) of one command."""
        try:
            proc = subprocess.run(
                list(argv),
                cwd=self.root,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            return None, f"command not found: {argv[0]} (is it installed next to gatekeeper?)"
        except PermissionError:
            return None, f"not executable: {argv[0]}"
        except subprocess.TimeoutExpired as exc:
            output = exc.output.decode("utf-8", errors="replace") if exc.output else ""
            return None, output + f"\ntimed out after {timeout:g} s: {' '.join(argv)}"
        return proc.returncode, proc.stdout.decode("utf-8", errors="replace")

    def _run_steps(self, stage: Stage, progress: Progress) -> StageResult:
        started = time.perf_counter()
        log_path = self._log_path(stage)
        with log_path.open("w", encoding="utf-8") as log:
            for step in stage.steps:
                progress.step_started(stage, step.run)
                code, output = self._exec(step.run, self._step_env(stage, step), step.timeout)
                log.write(f"$ {' '.join(step.run)}\n{output}")
                if not output.endswith("\n"):
                    log.write("\n")
                if code is None or code not in step.ok_exit_codes:
                    return StageResult(
                        name=stage.name,
                        status=StageStatus.FAILED,
                        seconds=time.perf_counter() - started,
                        exit_code=code,
                        command=tuple(step.run),
                        output_tail=_tail(output),
                        log=str(log_path.relative_to(self.root)),
                    )
        missing = [a for a in stage.artifacts if not (self.root / a).is_file()]
        if missing:
            return StageResult(
                name=stage.name,
                status=StageStatus.FAILED,
                seconds=time.perf_counter() - started,
                command=tuple(stage.steps[-1].run),
                output_tail=f"the stage did not produce {', '.join(missing)}",
                log=str(log_path.relative_to(self.root)),
            )
        return StageResult(
            name=stage.name,
            status=StageStatus.PASSED,
            seconds=time.perf_counter() - started,
            exit_code=0,
            log=str(log_path.relative_to(self.root)),
        )

    def _step_env(self, stage: Stage, step: Step) -> dict[str, str]:
        return {**self.env, **stage.env, **step.env}

    def _run_gate(
        self,
        stage: Stage,
        spec: GateSpec,
        skipped_artifacts: Mapping[str, str],
        progress: Progress,
    ) -> StageResult:
        started = time.perf_counter()
        evidence = [e for e in spec.evidence if e not in skipped_artifacts]
        notes = tuple(
            f"without {e}: stage {skipped_artifacts[e]} was skipped"
            for e in spec.evidence
            if e in skipped_artifacts
        )
        argv = gate_argv(spec, evidence, self.options.python)
        progress.step_started(stage, argv)
        code, output = self._exec(argv, {**self.env, **stage.env}, GATE_TIMEOUT_S)
        log_path = self._log_path(stage)
        log_path.write_text(f"$ {' '.join(argv)}\n{output}", encoding="utf-8")
        status = StageStatus.PASSED if code == EXIT_PASS else StageStatus.FAILED
        return StageResult(
            name=stage.name,
            status=status,
            seconds=time.perf_counter() - started,
            exit_code=code,
            command=argv,
            # The gate's report is the point of the stage: keep all of it.
            output_tail=output.rstrip("\n"),
            log=str(log_path.relative_to(self.root)),
            notes=notes,
            is_gate=True,
        )

    def _write_record(self, result: PipelineResult) -> None:
        record = {
            "schema": "gatekeeper.pipeline-run/v1",
            "offline": result.offline,
            "planned": list(result.planned),
            "exit_code": result.exit_code,
            "stages": [
                {**asdict(s), "status": s.status.value, "output_tail": None} for s in result.stages
            ],
        }
        path = self.root / RUN_RECORD
        path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def run_pipeline(
    root: Path, spec: PipelineSpec, options: RunOptions, progress: Progress | None = None
) -> PipelineResult:
    if not root.is_dir():
        raise InputError("service directory not found", path=str(root))
    return PipelineRunner(root, spec, options).run(progress)
