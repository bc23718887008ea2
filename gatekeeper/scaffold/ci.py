"""Parse a service's CI files into one normalized document for the conformance policies.

GitHub Actions workflows (``.github/workflows/*.yml``) and GitLab CI (``.gitlab-ci.yml``) become
the same shape, so a policy says "the gate step comes after the SAST step" once::

    {"template": {"id", "version", "version_parts"} | null,
     "pipelines": [{"system": "github" | "gitlab", "file": ".github/workflows/ci.yml",
                    "steps": [{"job", "name", "position", "kinds": ["sast"], "uses",
                               "may_fail", "commands": [{"argv", "tool", "kind", "may_fail",
                                                         "outputs"}]}]}]}

``position`` orders steps: for GitHub, jobs by their ``needs`` depth and steps by index; for
GitLab, jobs by the index of their stage (jobs of one stage run in parallel, so they share a
position). Shell scripts are split into commands with ``shlex`` (``&&``, ``||``, ``;``, ``|``);
a command followed by ``||``, ``|`` or ``&`` may fail without failing the step. Commands are
classified by the tool they run (``kind``: test, sbom, sast, dependency-scan, gate, deploy);
policies may also look at ``argv`` themselves.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gatekeeper.config import read_yaml_file
from gatekeeper.errors import InputError
from gatekeeper.scaffold.record import RECORD_PATH, read_record
from gatekeeper.scaffold.template import parse_semver

GITHUB_WORKFLOWS = ".github/workflows"
GITLAB_FILE = ".gitlab-ci.yml"
STEP_SPACING = 1000  # position = job_or_stage_rank * STEP_SPACING + step index

# Tool (argv[0] or `python -m X`) -> kind of pipeline step.
TOOL_KINDS: dict[str, str] = {
    "pytest": "test",
    "tox": "test",
    "nox": "test",
    "cyclonedx-py": "sbom",
    "cyclonedx-bom": "sbom",
    "cyclonedx_py": "sbom",
    "syft": "sbom",
    "cdxgen": "sbom",
    "semgrep": "sast",
    "bandit": "sast",
    "codeql": "sast",
    "pip-audit": "dependency-scan",
    "pip_audit": "dependency-scan",
    "osv-scanner": "dependency-scan",
    "grype": "dependency-scan",
    "trivy": "dependency-scan",
    "safety": "dependency-scan",
}
_OPERATORS = {"&&", "||", ";", "|", "&"}
# GitLab top-level keys that are not jobs.
_GITLAB_RESERVED = {
    "stages",
    "variables",
    "default",
    "include",
    "workflow",
    "image",
    "services",
    "before_script",
    "after_script",
    "cache",
    "pages",
}
_GITLAB_DEFAULT_STAGES = [".pre", "build", "test", "deploy", ".post"]


def _script_lines(script: str) -> list[str]:
    """Shell lines with backslash continuations joined."""
    lines: list[str] = []
    pending = ""
    for raw in script.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    if pending:
        lines.append(pending)
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _tool(argv: list[str]) -> str:
    program = Path(argv[0]).name
    if program.startswith("python") and len(argv) >= 3 and argv[1] == "-m":
        return argv[2]
    return program


def _kind(tool: str, argv: list[str]) -> str | None:
    if tool == "gatekeeper":
        words = [a for a in argv[1:] if not a.startswith("-")]
        if words[:2] == ["gate", "run"]:
            return "gate"
        if words[:1] == ["deploy"]:
            return "deploy"
        return None
    if tool == "trivy" and "sbom" in argv[1:3]:
        return "dependency-scan"
    return TOOL_KINDS.get(tool)


def _outputs(argv: list[str]) -> list[str]:
    """Report formats of ``gatekeeper gate run -o FORMAT=PATH`` / ``--output=FORMAT=PATH``."""
    formats: list[str] = []
    for index, arg in enumerate(argv):
        value: str | None = None
        if arg in ("-o", "--output") and index + 1 < len(argv):
            value = argv[index + 1]
        elif arg.startswith("--output="):
            value = arg.removeprefix("--output=")
        elif arg.startswith("-o") and len(arg) > 2:
            value = arg[2:]
        if value and "=" in value:
            formats.append(value.split("=", 1)[0])
    return formats


def parse_commands(script: str) -> list[dict[str, Any]]:
    """Commands of a shell script, each with argv, tool, kind and whether it may fail."""
    commands: list[dict[str, Any]] = []
    for line in _script_lines(script):
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            tokens = list(lexer)
        except ValueError:  # unbalanced quotes: fall back to whitespace
            tokens = line.split()
        current: list[str] = []
        for word in [*tokens, ";"]:
            if word in _OPERATORS:
                if current:
                    tool = _tool(current)
                    commands.append(
                        {
                            "argv": current,
                            "tool": tool,
                            "kind": _kind(tool, current),
                            # `a || b`: a's failure is handled; `a | b`: the status is
                            # b's (without pipefail); `a &`: nobody waits for a.
                            "may_fail": word in ("||", "|", "&"),
                            "outputs": _outputs(current),
                        }
                    )
                current = []
            else:
                current.append(word)
    return commands


def _step(
    *, job: str, name: str, position: int, script: str, uses: str | None, may_fail: bool
) -> dict[str, Any]:
    commands = parse_commands(script)
    kinds = sorted({c["kind"] for c in commands if c["kind"]})
    return {
        "job": job,
        "name": name,
        "position": position,
        "kinds": kinds,
        "uses": uses,
        "may_fail": may_fail,
        "commands": commands,
    }


def _truthy(value: Any) -> bool:
    # `continue-on-error: ${{ ... }}` is an expression: treat it as "may fail".
    return value is True or (isinstance(value, str) and value.strip().lower() not in ("", "false"))


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs")
    if isinstance(needs, str):
        return [needs]
    if isinstance(needs, list):
        return [str(n) for n in needs]
    return []


def _job_depths(jobs: dict[str, dict[str, Any]]) -> dict[str, int]:
    depths: dict[str, int] = {}

    def depth(name: str, trail: frozenset[str]) -> int:
        if name in depths:
            return depths[name]
        if name in trail or name not in jobs:
            return 0  # a cycle or unknown job: GitHub rejects it; do not loop
        value = 1 + max((depth(n, trail | {name}) for n in _needs(jobs[name])), default=-1)
        depths[name] = value
        return value

    for name in jobs:
        depth(name, frozenset())
    return depths


def parse_github(path: Path, shown: str) -> dict[str, Any]:
    data = read_yaml_file(path, display=shown, error=InputError).data
    if not isinstance(data, dict):
        raise InputError("a workflow must be a mapping", path=shown)
    raw_jobs = data.get("jobs")
    if not isinstance(raw_jobs, dict):
        raise InputError("workflow has no `jobs` mapping", path=shown)
    jobs = {str(k): v for k, v in raw_jobs.items() if isinstance(v, dict)}
    depths = _job_depths(jobs)
    steps: list[dict[str, Any]] = []
    for job_name in sorted(jobs, key=lambda n: (depths[n], n)):
        job = jobs[job_name]
        job_may_fail = _truthy(job.get("continue-on-error"))
        raw_steps = job.get("steps") or []
        if not isinstance(raw_steps, list):
            raise InputError(f"jobs.{job_name}.steps must be a list", path=shown)
        for index, step in enumerate(raw_steps):
            if not isinstance(step, dict):
                continue
            run = step.get("run")
            uses = step.get("uses")
            steps.append(
                _step(
                    job=job_name,
                    name=str(step.get("name") or step.get("id") or uses or f"step {index + 1}"),
                    position=depths[job_name] * STEP_SPACING + index,
                    script=run if isinstance(run, str) else "",
                    uses=uses if isinstance(uses, str) else None,
                    may_fail=job_may_fail or _truthy(step.get("continue-on-error")),
                )
            )
    return {"system": "github", "file": shown, "steps": steps}


def _script_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_script_text(v) for v in value)
    return ""


def parse_gitlab(path: Path, shown: str) -> dict[str, Any]:
    data = read_yaml_file(path, display=shown, error=InputError).data
    if not isinstance(data, dict):
        raise InputError("a GitLab CI file must be a mapping", path=shown)
    stages = data.get("stages") or _GITLAB_DEFAULT_STAGES
    if not isinstance(stages, list):
        raise InputError("`stages` must be a list", path=shown)
    ranks = {str(s): i for i, s in enumerate(stages)}
    steps: list[dict[str, Any]] = []
    for name, job in data.items():
        if not isinstance(job, dict) or str(name) in _GITLAB_RESERVED or str(name).startswith("."):
            continue
        stage = str(job.get("stage", "test"))
        script = "\n".join(
            _script_text(job.get(key)) for key in ("before_script", "script", "after_script")
        )
        steps.append(
            _step(
                job=str(name),
                name=str(name),
                position=ranks.get(stage, len(ranks)) * STEP_SPACING,
                script=script,
                uses=None,
                may_fail=_truthy(job.get("allow_failure")),
            )
        )
    steps.sort(key=lambda s: (s["position"], s["name"]))
    return {"system": "gitlab", "file": shown, "steps": steps}


def ci_files(root: Path) -> Iterable[tuple[str, Path, str]]:
    """(system, path, shown) of every CI file in the service."""
    workflows = root / GITHUB_WORKFLOWS
    if workflows.is_dir():
        for path in sorted(workflows.iterdir()):
            if path.suffix in (".yml", ".yaml") and path.is_file():
                yield "github", path, path.relative_to(root).as_posix()
    gitlab = root / GITLAB_FILE
    if gitlab.is_file():
        yield "gitlab", gitlab, GITLAB_FILE


def conformance_document(root: Path) -> dict[str, Any]:
    """The ``input`` of the conformance policies for the service in ``root``."""
    if not root.is_dir():
        raise InputError("service directory not found", path=str(root))
    pipelines = [
        parse_github(path, shown) if system == "github" else parse_gitlab(path, shown)
        for system, path, shown in ci_files(root)
    ]
    template: dict[str, Any] | None = None
    if (root / RECORD_PATH).is_file():
        record = read_record(root)
        template = {
            "id": record.template,
            "version": record.version,
            "version_parts": list(parse_semver(record.version)),
        }
    return {"template": template, "pipelines": pipelines}
