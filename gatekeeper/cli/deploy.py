"""``gatekeeper deploy``: progressive delivery of a gated release (docs/deployer.md).

``gatekeeper deploy RELEASE --env ENV`` is shorthand for ``gatekeeper deploy run RELEASE --env
ENV``. Exit codes: 0 promoted (or paused, unchanged, a dry run that would be allowed); 1 refused
(no passing, authentic gate decision for the artifact, a deploy-time policy said no, or code
that is not the judged artifact) or rolled back on the release's own verdict; 2 bad usage or
input; 3 the machinery failed (traffic was left on the last known-good version).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

# The controller pulls in the judge, Drain3 and the proxy client: imported when a deploy
# command runs, so that `gatekeeper gate run` does not pay for it at start-up.
if TYPE_CHECKING:
    from gatekeeper.deploy.controller import DeployResult
    from gatekeeper.deploy.operator import ActionResult, StatusResult

from gatekeeper.cli.options import silence_stdout
from gatekeeper.deploy.strategy import STRATEGY_KINDS
from gatekeeper.deploy.target import TARGETS, target_capabilities
from gatekeeper.errors import EXIT_FAIL


class _DefaultRunGroup(click.Group):
    """`deploy RELEASE ...` runs `deploy run RELEASE ...`; known subcommands win."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _service_dir_option(function: Any) -> Any:
    return click.option(
        "-C",
        "service_dir",
        type=click.Path(file_okay=False),
        default=".",
        show_default=True,
        help="Service directory: its gatekeeper.yaml (`deploy` section), the deployment state "
        "(.gatekeeper/deploy/) and, unless --ledger says otherwise, its ledger.",
    )(function)


def _common(function: Any) -> Any:
    function = click.option(
        "--ledger",
        metavar="PATH|URL",
        help="Ledger holding the gate decisions (default: `ledger:` in gatekeeper.yaml, else "
        "$GATEKEEPER_LEDGER_URL, else .gatekeeper/ledger.db in the service directory).",
    )(function)
    function = click.option(
        "--target",
        type=click.Choice(TARGETS.names()),
        default=TARGETS.default,
        show_default=True,
        help="Where to deploy: worker processes behind the built-in proxy, or Kubernetes.",
    )(function)
    return _service_dir_option(function)


def _service_option(function: Any) -> Any:
    return click.option(
        "--service",
        help="Service name (default: the only service deployed from the service directory).",
    )(function)


def _format_option(function: Any) -> Any:
    return click.option(
        "--format",
        "format_",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Output format.",
    )(function)


@click.group(cls=_DefaultRunGroup)
def deploy_group() -> None:
    """Deploy a gated release progressively, verify it, roll it back on its own.

    `gatekeeper deploy RELEASE --env ENV` is `gatekeeper deploy run RELEASE --env ENV`.
    """


@deploy_group.command("run")
@click.argument("release", type=click.Path(dir_okay=False))
@click.option("--env", "environment", required=True, help="Target environment (for GK-REL-*).")
@click.option(
    "--strategy",
    type=click.Choice(STRATEGY_KINDS),
    help="Rollout strategy: the service's configured one when of this kind, else the built-in "
    "default (default: the configured strategy, else canary 10 % / 50 % with analyses).",
)
@click.option(
    "--dry-run", is_flag=True, help="Print the plan (steps, weights, analysis); change nothing."
)
@click.option(
    "--trusted-key",
    "trusted_keys",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Ed25519 public key (PEM) the gate decision must be signed by; repeatable. "
    "GATEKEEPER_LEDGER_KEY's public half is always trusted.",
)
@_format_option
@_common
def run_command(
    release: str,
    environment: str,
    strategy: str | None,
    dry_run: bool,
    trusted_keys: tuple[str, ...],
    format_: str,
    service_dir: str,
    target: str,
    ledger: str | None,
) -> None:
    """Deploy RELEASE (a release.yaml: service, version, artifact_digest) to ENV.

    Refused (exit 1) without a passing, authentic gate decision for the same artifact digest
    in the ledger, or when a deploy-time policy (freeze, promotion order, approvals, change
    reference) fails for ENV. On the local target the folder holding RELEASE is the code that
    runs, and its digest (`deploy digest`) must be the release's artifact_digest.
    """
    from gatekeeper.deploy.context import DeployRequest
    from gatekeeper.deploy.controller import deploy

    request = DeployRequest(
        release_file=Path(release),
        environment=environment,
        service_dir=Path(service_dir),
        strategy=strategy,
        target=target,
        dry_run=dry_run,
        trusted_keys=tuple(Path(k) for k in trusted_keys),
        ledger=ledger,
    )
    result = deploy(request)
    if format_ == "json":
        click.echo(json.dumps(_result_document(result), indent=2, sort_keys=True))
    else:
        _print_result(result)
    if dry_run and not result.plan.allowed:
        raise SystemExit(EXIT_FAIL)
    raise SystemExit(result.exit_code)


def _result_document(result: DeployResult) -> dict[str, Any]:
    plan = result.plan
    return {
        "schema": "gatekeeper.deploy-result/v1",
        "deployment_id": result.deployment_id,
        "outcome": result.outcome,
        "reason": result.reason,
        "allowed": plan.allowed,
        "refusals": list(plan.refusals),
        "release": plan.record.model_dump(mode="json"),
        "environment": plan.environment,
        "target": plan.target,
        "strategy": plan.strategy.model_dump(mode="json", by_alias=True),
        "steps": plan.steps(),
        "gate_decision": {
            "allowed": plan.approval.allowed,
            "reason": plan.approval.reason,
            "decision_id": plan.approval.decision_id,
            "signer": plan.approval.signer,
        },
        "deploy_policy": plan.policy.summary(),
        "verification": plan.verification.model_dump(mode="json")
        | {"judge": plan.verification.judge_config().model_dump(mode="json", by_alias=True)},
        "verdicts": list(result.verdicts),
    }


def _print_result(result: DeployResult) -> None:
    plan = result.plan
    release = plan.record
    click.echo(
        f"release {plan.release.service} {release.version} -> {plan.environment} "
        f"({plan.target} target, {plan.strategy.kind})"
    )
    click.echo(f"  artifact  {release.artifact_digest}")
    mark = "ok" if plan.approval.allowed else "REFUSED"
    click.echo(f"  gate      {mark}: {plan.approval.reason}")
    policy = plan.policy
    click.echo(
        f"  policies  {policy.outcome}: {policy.rules} deploy-time rule(s) for {plan.environment}"
    )
    for line in policy.violations:
        click.echo(f"            - {line}")
    for line in policy.waived:
        click.echo(f"            waived {line}")
    if result.outcome == "dry_run":
        click.echo("plan:")
        for line in plan.steps():
            click.echo(f"  {line}")
        click.echo("analysis:")
        judge = plan.verification.judge_config()
        for metric in judge.metrics:
            extras = [f"source {metric.source}", f"group {metric.group}"]
            if metric.critical:
                extras.append("critical")
            if metric.slo is not None:
                limit = (
                    f"max {metric.slo.max}"
                    if metric.slo.max is not None
                    else f"min {metric.slo.min}"
                )
                extras.append(f"slo {metric.slo.statistic} {limit}")
            if metric.dry_run:
                extras.append("dry-run (reported, never counts)")
            click.echo(f"  metric {metric.name}: {metric.query} ({', '.join(extras)})")
        logs = plan.verification.logs
        click.echo(
            "  logs: "
            + (
                f"new or rising error templates fail (fail_on {logs.fail_on})"
                if logs.enabled and target_capabilities(plan.target).worker_logs
                else "off"
            )
        )
        rollout = plan.verification.policy
        click.echo(
            f"  policy: {rollout.passes_required} pass(es) per analysis, rollback after "
            f"{rollout.failure_limit} failing looks in a row"
            + (" (SLO breach: at once)" if rollout.slo_rollback_now else "")
        )
        from gatekeeper.deploy.decision_time import decision_time_lines

        for line in decision_time_lines(plan.strategy, judge, plan.current, plan.replicas):
            click.echo(f"  {line}")
        if plan.refusals:
            click.echo("would be REFUSED: " + "; ".join(plan.refusals))
        else:
            click.echo("dry run: nothing was changed")
        return
    if result.recovery is not None:
        click.echo(f"recovered first: {result.recovery.action}: {result.recovery.message}")
    for verdict in result.verdicts:
        click.echo("  " + _verdict_line(verdict))
    click.echo(f"{result.outcome}: {result.reason}")


def _verdict_line(verdict: dict[str, Any]) -> str:
    metrics = verdict.get("metrics") or {}
    score = metrics.get("score")
    from gatekeeper.deploy.executor import PRE_SWITCH_STEP

    index = verdict.get("step_index")
    number = index if isinstance(index, int) else -1
    # Blue-green's analysis before the switch has its own step index.
    step = "before the switch" if index == PRE_SWITCH_STEP else f"step {number + 1}"
    head = (
        f"{step} look {verdict.get('attempt')}: "
        f"{verdict.get('result')} ({verdict.get('action')}), judge {metrics.get('outcome')}"
        f" score {'n/a' if score is None else f'{score:.0f}'}"
    )
    return f"{head} - {verdict.get('reason')}"


def _metric_lines(verdict: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for metric in (verdict.get("metrics") or {}).get("metrics", []):
        numbers = [
            f"n baseline/canary {metric.get('n_baseline')}/{metric.get('n_canary')}",
        ]
        proportion = metric.get("kind") == "proportion"
        # Say what each number is: a rate for proportions, medians (what the rank test and
        # the Hodges-Lehmann shift are about) and means for samples.
        pairs = (
            (("baseline_mean", "baseline rate"), ("canary_mean", "canary rate"))
            if proportion
            else (
                ("baseline_median", "baseline median"),
                ("canary_median", "canary median"),
                ("baseline_mean", "baseline mean"),
                ("canary_mean", "canary mean"),
            )
        )
        for key, label in pairs:
            value = metric.get(key)
            if value is not None:
                numbers.append(f"{label} {value:.4g}")
        shift_name = "rate difference" if proportion else "median shift (Hodges-Lehmann)"
        if metric.get("shift") is not None:
            numbers.append(f"{shift_name} {metric['shift']:.4g}")
        if metric.get("shift_lower") is not None and metric.get("shift_upper") is not None:
            kind = "always-valid" if metric.get("sequential") else "fixed-sample"
            confidence = metric.get("confidence") or 0
            numbers.append(
                f"{confidence:.0%} {kind} interval [{metric['shift_lower']:.4g}, "
                f"{metric['shift_upper']:.4g}]"
            )
        if metric.get("p_value") is not None:
            numbers.append(f"p {metric['p_value']:.3g}")
        if metric.get("allowed_shift") is not None:
            basis = (
                f"max({metric.get('tolerance', 0):g} x baseline "
                f"{'rate' if proportion else 'median'}, {metric.get('abs_tolerance', 0):g})"
            )
            numbers.append(f"tolerated shift {metric['allowed_shift']:.4g} = {basis}")
        slo = metric.get("slo")
        if slo:
            numbers.append(
                f"slo {slo.get('statistic')} bound {slo.get('bound')} vs {slo.get('limit')}"
            )
        dry = " [dry-run]" if metric.get("dry_run") else ""
        lines.append(
            f"      {metric.get('name')}{dry}: {metric.get('outcome')} ({metric.get('rule')}) "
            + ", ".join(numbers)
        )
    logs = verdict.get("logs")
    if logs:
        lines.append(
            f"      logs: {logs.get('outcome')} - {logs.get('reason')} "
            f"({logs.get('baseline_lines')} baseline / {logs.get('canary_lines')} canary lines)"
        )
        for finding in logs.get("findings", [])[:3]:
            lines.append(
                f"        {finding.get('kind')}{' (fails)' if finding.get('fails') else ''}: "
                f"{finding.get('template')} x{finding.get('canary_count')}"
            )
    return lines


@deploy_group.command("status")
@_service_option
@_format_option
@_common
def status_command(
    service: str | None, format_: str, service_dir: str, target: str, ledger: str | None
) -> None:
    """Phase, versions, weights, workers, the last verdicts with their numbers, and why a
    rollout was rolled back. Finishes or reverts a rollout whose deployer died."""
    from gatekeeper.deploy.context import find_service, load_context
    from gatekeeper.deploy.operator import status

    context = load_context(Path(service_dir), ledger=ledger)
    result = status(context, find_service(Path(service_dir), service), target=target)
    # `deploy status | head` closes the pipe early: the reader's choice, not an error.
    try:
        if format_ == "json":
            click.echo(json.dumps(result.to_document(), indent=2, sort_keys=True, default=str))
            return
        _print_status(result)
    except BrokenPipeError:
        silence_stdout()


def _print_status(result: StatusResult) -> None:
    state = result.live.get("state") or {}
    click.echo(f"service {result.service} ({result.target} target)  phase {state.get('phase')}")
    if result.busy:
        click.echo("  a deployer is running this rollout (shown as is, not touched)")
    if result.recovery is not None:
        click.echo(f"  recovered: {result.recovery.action}: {result.recovery.message}")
    weight = int(state.get("canary_weight") or 0)
    alive = result.live.get("workers_alive") or {}
    # A canary's fresh baseline (workers of the stable version) takes as large a share.
    fresh = min(weight, 100 - weight) if state.get("baseline_workers") else 0
    shares = (("stable", 100 - weight - fresh), ("canary", weight), ("baseline", fresh))
    for pool, share in shares:
        release = state.get("stable" if pool == "baseline" else pool)
        workers = state.get(f"{pool}_workers") or []
        if pool == "baseline" and not workers:
            continue  # shown only while a canary is judged against one
        if release is None and not workers:
            click.echo(f"  {pool:<7} -")
            continue
        up = sum(1 for w in workers if alive.get(w.get("id"), True))
        ports = ", ".join(f"{w.get('pid')}@{w.get('port')}" for w in workers)
        version = release.get("version") if release else "-"
        click.echo(
            f"  {pool:<7} {version:<12} {share:>3} %  workers {up}/{len(workers)} alive"
            + (f"  [{ports}]" if ports else "")
        )
    proxy = state.get("proxy")
    if proxy:
        mark = "alive" if result.live.get("proxy_alive") else "NOT RUNNING"
        click.echo(
            f"  proxy   127.0.0.1:{proxy.get('port')} (admin {proxy.get('admin_port')}) {mark}"
        )
    if state.get("reason"):
        click.echo(f"  last    {state.get('reason')}")
    lease = (result.live.get("proxy") or {}).get("lease") or {}
    if lease.get("expired"):
        click.echo(f"  lease   {lease['expired'].get('reason')}")
    deployment = result.deployment
    if deployment is None:
        return
    click.echo(
        f"last deployment {deployment.deployment_id}: {deployment.release.get('version')} to "
        f"{deployment.environment} ({deployment.strategy}) -> {deployment.outcome}"
    )
    if deployment.reason:
        click.echo(f"  reason: {deployment.reason}")
    for verdict in deployment.verdicts[-5:]:
        click.echo("  " + _verdict_line(verdict))
        for line in _metric_lines(verdict):
            click.echo(line)


@deploy_group.command("history")
@_service_option
@click.option("--verdicts", is_flag=True, help="Include every analysis verdict.")
@_format_option
@_service_dir_option
@click.option("--ledger", metavar="PATH|URL", help="Ledger to read (default as for `deploy`).")
def history_command(
    service: str | None, verdicts: bool, format_: str, service_dir: str, ledger: str | None
) -> None:
    """Deployments, rollbacks, refusals and recoveries recorded in the ledger, oldest first."""
    from gatekeeper.deploy.context import load_context
    from gatekeeper.deploy.operator import history

    context = load_context(Path(service_dir), ledger=ledger)
    rows = [row for row in history(context, service) if verdicts or row["kind"] != "deploy.verdict"]
    try:
        _print_history(rows, format_)
    except BrokenPipeError:
        silence_stdout()


def _print_history(rows: list[dict[str, Any]], format_: str) -> None:
    if format_ == "json":
        click.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    if not rows:
        click.echo("no deployments recorded")
    for row in rows:
        release = row["release"]
        name = " ".join(
            str(release.get(k)) for k in ("service", "version", "environment") if release.get(k)
        )
        moved = ""
        if row.get("rolled_back_version") or row.get("restored_version"):
            moved = (
                f"\trolled back {row.get('rolled_back_version') or '-'}, "
                f"restored {row.get('restored_version') or '-'}"
            )
        click.echo(
            f"#{row['seq']}\t{row['recorded_at']}\t{row['kind']}\t{row['outcome']}\t{name}"
            + moved
            + (f"\t{row['reason']}" if row.get("reason") else "")
        )


def _print_action(result: ActionResult) -> None:
    if result.recovery is not None:
        click.echo(f"recovered: {result.recovery.action}: {result.recovery.message}")
    serving = f"; {result.version} serves 100 %" if result.version else ""
    click.echo(f"{result.action}: {result.message}{serving}")


@deploy_group.command("rollback")
@_service_option
@click.option("--reason", help="Why (recorded in the ledger).")
@_common
def rollback_command(
    service: str | None, reason: str | None, service_dir: str, target: str, ledger: str | None
) -> None:
    """Revert an unfinished (paused or abandoned) rollout to stable; with none, go back to the
    version that served before the last promotion."""
    from gatekeeper.deploy.context import find_service, load_context
    from gatekeeper.deploy.operator import rollback

    context = load_context(Path(service_dir), ledger=ledger)
    name = find_service(Path(service_dir), service)
    _print_action(rollback(context, name, target=target, reason=reason))


@deploy_group.command("abort")
@_service_option
@click.option(
    "--wait",
    type=click.FloatRange(0, 3600),
    default=120,
    show_default=True,
    help="Seconds to wait for a running deployer to revert and exit.",
)
@_common
def abort_command(
    service: str | None, wait: float, service_dir: str, target: str, ledger: str | None
) -> None:
    """Stop a rollout and revert it: a running deployer is told to (and waited for), a paused
    or abandoned rollout is reverted here."""
    from gatekeeper.deploy.context import find_service, load_context
    from gatekeeper.deploy.operator import abort

    context = load_context(Path(service_dir), ledger=ledger)
    name = find_service(Path(service_dir), service)
    result = abort(context, name, target=target, wait=wait, sleep=time.sleep)
    _print_action(result)
    if result.action == "abort_requested":
        raise SystemExit(3)


@deploy_group.command("promote")
@_service_option
@_common
def promote_command(service: str | None, service_dir: str, target: str, ledger: str | None) -> None:
    """Resume a paused rollout after the step it paused on (its analyses still run)."""
    from gatekeeper.deploy.context import find_service, load_context
    from gatekeeper.deploy.operator import promote

    context = load_context(Path(service_dir), ledger=ledger)
    name = find_service(Path(service_dir), service)
    result = promote(context, name, target=target)
    _print_action(result)
    if result.action == "rolled_back":
        raise SystemExit(EXIT_FAIL)


@deploy_group.command("stop")
@_service_option
@_common
def stop_command(service: str | None, service_dir: str, target: str, ledger: str | None) -> None:
    """Stop every worker and the proxy of the service (local target): nothing keeps running."""
    from gatekeeper.deploy.context import find_service, load_context
    from gatekeeper.deploy.operator import stop

    context = load_context(Path(service_dir), ledger=ledger)
    _print_action(stop(context, find_service(Path(service_dir), service), target=target))


@deploy_group.group("incident")
def incident_group() -> None:
    """Record a production failure after promotion, linked to the deployment that caused it,
    and when service was restored (DORA's change failure rate and time to restore). With
    GATEKEEPER_SERVER set the decision service records it (a submit token of the project)."""


def _incident_output(document: dict[str, Any], format_: str, verb: str) -> None:
    if format_ == "json":
        click.echo(json.dumps(document, indent=2, sort_keys=True))
        return
    click.echo(
        f"incident {document['incident_id']} {verb} at {document['at']}: "
        f"{document['service']} {document['environment'] or '-'}, "
        f"deployment {document['deployment_id']} (record #{document['seq']})"
    )


def _local_incident(service_dir: str, ledger: str | None, write: Any) -> dict[str, Any]:
    """Record in the service directory's ledger (as `deploy` finds it: --ledger, `ledger:` in
    gatekeeper.yaml, $GATEKEEPER_LEDGER_URL, .gatekeeper/ledger.db), signed as `deploy` signs."""
    import os

    from gatekeeper.config import load_config
    from gatekeeper.ledger.registry import open_configured_store
    from gatekeeper.ledger.signing import signer_from_env

    directory = Path(service_dir)
    config = load_config(None, cwd=directory, env=os.environ)
    store = open_configured_store(
        ledger, config=config, env=os.environ, cwd=directory, create=False
    )
    try:
        written = write(store, signer_from_env(os.environ))
    finally:
        store.close()
    return dict(written.to_document(""))


@incident_group.command("open")
@click.option("--service", required=True, help="The service that failed.")
@click.option("--env", "environment", default="production", show_default=True)
@click.option(
    "--deployment",
    "deployment_id",
    help="The deployment that caused it (`deploy history` shows ids). Default: the service's "
    "newest promoted deployment to --env.",
)
@click.option("--summary", default="", help="What users saw (recorded).")
@click.option("--at", "at", metavar="TIME", help="When it began (RFC 3339). Default: now.")
@_format_option
@_service_dir_option
@click.option("--ledger", metavar="PATH|URL", help="Ledger to record in (default as for `deploy`).")
def incident_open_command(
    service: str,
    environment: str,
    deployment_id: str | None,
    summary: str,
    at: str | None,
    format_: str,
    service_dir: str,
    ledger: str | None,
) -> None:
    """Open an incident: prints its id (for `deploy incident resolve`)."""
    import os

    from gatekeeper.ledger.incidents import open_incident, parse_time
    from gatekeeper.ledger.remote import SERVER_ENV, post_incident

    when = parse_time(at, option="--at")
    server = os.environ.get(SERVER_ENV, "").strip()
    if server and ledger is None:
        payload = {
            "service": service,
            "environment": environment,
            "deployment_id": deployment_id,
            "summary": summary,
            "opened_at": when,
        }
        document = post_incident(
            server, "/v1/incidents", payload, env=os.environ, cwd=Path(service_dir)
        )
    else:
        document = _local_incident(
            service_dir,
            ledger,
            lambda store, signer: open_incident(
                store,
                service=service,
                environment=environment,
                deployment_id=deployment_id,
                summary=summary,
                at=when,
                source="gatekeeper deploy incident open",
                signer=signer,
            ),
        )
    _incident_output({**document, "kind": "deploy.incident_opened"}, format_, "opened")


@incident_group.command("resolve")
@click.argument("incident_id")
@click.option("--summary", default="", help="How service was restored (recorded).")
@click.option("--at", "at", metavar="TIME", help="When service was restored. Default: now.")
@_format_option
@_service_dir_option
@click.option("--ledger", metavar="PATH|URL", help="Ledger to record in (default as for `deploy`).")
def incident_resolve_command(
    incident_id: str,
    summary: str,
    at: str | None,
    format_: str,
    service_dir: str,
    ledger: str | None,
) -> None:
    """Resolve an incident: service is restored."""
    import os

    from gatekeeper.errors import InputError
    from gatekeeper.ledger.incidents import parse_time, resolve_incident
    from gatekeeper.ledger.remote import SERVER_ENV, post_incident

    if not incident_id.startswith("inc-") or "/" in incident_id:
        raise InputError(f"not an incident id: {incident_id!r} (inc-…)")
    when = parse_time(at, option="--at")
    server = os.environ.get(SERVER_ENV, "").strip()
    if server and ledger is None:
        document = post_incident(
            server,
            f"/v1/incidents/{incident_id}/resolve",
            {"summary": summary, "resolved_at": when},
            env=os.environ,
            cwd=Path(service_dir),
        )
    else:
        document = _local_incident(
            service_dir,
            ledger,
            lambda store, signer: resolve_incident(
                store,
                incident_id=incident_id,
                at=when,
                summary=summary,
                source="gatekeeper deploy incident resolve",
                signer=signer,
            ),
        )
    _incident_output({**document, "kind": "deploy.incident_resolved"}, format_, "resolved")


@deploy_group.command("digest")
@click.argument("directory", type=click.Path(file_okay=False), default=".")
def digest_command(directory: str) -> None:
    """Print the artifact digest of a service directory (the local target's artifact): put it
    in release.yaml as artifact_digest before the gate runs."""
    from gatekeeper.deploy.artifact import tree_digest

    click.echo(tree_digest(Path(directory)))


# `gatekeeper deploy` is the group. A refusal (DeployRefused) is a GatekeeperError with exit
# code 1: the CLI's error handling prints its one line.
deploy_group.name = "deploy"
