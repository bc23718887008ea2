"""``gatekeeper audit``: verify, replay, report on and export the decision ledger.

Exit codes: ``verify`` 0 intact, 1 tampering found; ``replay`` 0 identical, 1 different or a
stored blob was altered; 2 bad usage or unknown decision; 3 ledger, policy or engine error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gatekeeper.cli.options import silence_stdout
from gatekeeper.config import GatekeeperConfig, load_config
from gatekeeper.errors import EXIT_FAIL, EXIT_PASS, ConfigError
from gatekeeper.ledger.canonical import period_bound
from gatekeeper.ledger.registry import open_configured_store

# What only some subcommands need (compliance reports and Jinja, replay, signing keys) is
# imported inside them: `gate run` imports this module for its ledger options.
if TYPE_CHECKING:
    from gatekeeper.audit.replay import ReplayResult, ViolationKey
    from gatekeeper.gate.run import GateResult
    from gatekeeper.ledger.chain import VerifyResult
    from gatekeeper.ledger.report import ComplianceReport
    from gatekeeper.ledger.store import LedgerStore, StoredRecord
    from gatekeeper.ledger.verified import PrefixCache

# The compliance report's formats (gatekeeper.ledger.report_render.RENDERERS; a test keeps
# the two equal), listed here so the option does not import the renderers.
REPORT_FORMATS = ("csv", "html", "json", "markdown")

_F = TypeVar("_F", bound=Callable[..., Any])


def ledger_options(function: _F) -> _F:
    """``--ledger`` and ``--config``: which ledger a command reads."""
    function = click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False),
        help="Configuration file (its `ledger:` key). Default: ./gatekeeper.yaml when present.",
    )(function)
    function = click.option(
        "--ledger",
        "ledger",
        metavar="PATH|URL",
        help="Ledger: a SQLite file or postgresql:// URL. Default: `ledger:` in gatekeeper.yaml, "
        "else $GATEKEEPER_LEDGER_URL, else .gatekeeper/ledger.db.",
    )(function)
    return function


def server_source_option(function: _F) -> _F:
    """``--server URL``: read the decision service's log instead of a local ledger."""
    return click.option(
        "--server",
        metavar="URL",
        help="Read the decision service's log instead of a local ledger: copied after it "
        "verifies with the service's public key (GATEKEEPER_SERVER_PUBLIC_KEY; admin token in "
        "GATEKEEPER_TOKEN).",
    )(function)


@contextmanager
def ledger_source(
    ledger: str | None,
    config_file: str | None,
    server: str | None,
    *,
    blobs_of: Callable[[StoredRecord], Sequence[str]] | None = None,
    trusted_keys: Sequence[str] = (),
) -> Iterator[LedgerStore]:
    """The ledger a read-only command works on: a local one, or a verified copy of the
    decision service's log (removed afterwards)."""
    if not server:
        store = open_ledger(ledger, config_file)
        try:
            yield store
        finally:
            store.close()
        return
    if ledger:
        raise click.UsageError("--server and --ledger name two different ledgers: give one")
    import tempfile

    from gatekeeper.ledger.registry import open_store
    from gatekeeper.ledger.remote_log import mirror_service_log, pinned_keys

    with tempfile.TemporaryDirectory(prefix="gatekeeper-service-log-") as folder:
        copy = Path(folder) / "ledger.db"
        mirror_service_log(
            server,
            copy,
            public_keys=pinned_keys(trusted_keys, os.environ),
            env=os.environ,
            cwd=Path.cwd(),
            blobs_of=blobs_of,
        )
        store = open_store(str(copy), base=Path.cwd(), create=False)
        try:
            yield store
        finally:
            store.close()


def open_ledger(ledger: str | None, config_file: str | None) -> LedgerStore:
    cwd = Path.cwd()
    config = load_config(Path(config_file) if config_file else None, cwd=cwd, env=os.environ)
    return open_configured_store(ledger, config=config, env=os.environ, cwd=cwd, create=False)


def write_output(text: str, output: str | None) -> None:
    if output is None:
        click.echo(text.rstrip("\n"))
        return
    path = Path(output)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write output: {exc.strerror}", path=output) from None


def write_chunks(chunks: Iterable[str], output: str | None) -> None:
    """``write_output`` for a document rendered piece by piece (never joined in memory), with
    the same text: to a file, one line break added when it does not end with one; on stdout,
    trailing line breaks replaced by one."""
    try:
        if output is None:
            stream = click.get_text_stream("stdout")
            held = ""  # trailing line breaks, written only if more text follows
            for piece in chunks:
                chunk = str.__str__(piece)  # plain text (Jinja yields Markup, which escapes)
                body = chunk.rstrip("\n")
                if body:
                    stream.write(held + body)
                    held = chunk[len(body) :]
                else:
                    held += chunk
            stream.write("\n")
            stream.flush()
            return
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        ends_with_break = False
        with path.open("w", encoding="utf-8") as handle:
            for chunk in chunks:
                if chunk:
                    handle.write(chunk)
                    ends_with_break = chunk.endswith("\n")
            if not ends_with_break:
                handle.write("\n")
    except OSError as exc:
        raise ConfigError(f"cannot write output: {exc.strerror}", path=output) from None


def no_cache_option(function: _F) -> _F:
    return click.option(
        "--no-cache",
        is_flag=True,
        help="Check every record's signature, not only those after the prefix an earlier "
        "verify checked (.gatekeeper/verified/); a fresh cache is still written.",
    )(function)


def prefix_cache(store: LedgerStore, no_cache: bool) -> PrefixCache:
    """The verified-prefix cache of ``store`` under the working directory (docs/ledger.md)."""
    from gatekeeper.ledger.verified import PrefixCache

    return PrefixCache(store, Path.cwd(), read=not no_cache)


def cache_done(cache: PrefixCache, result: VerifyResult) -> None:
    """Warn about a cache that was not used, and remember what this walk verified."""
    for warning in (*cache.warnings, *([result.warning] if result.warning else [])):
        click.echo(f"gatekeeper: warning: {warning}", err=True)
    cache.save(result.verified_prefix())


@click.group()
def audit() -> None:
    """Verify, replay, report on and export recorded gate decisions."""


@audit.command("verify")
@ledger_options
@click.option(
    "--trusted-key",
    "trusted_keys",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Ed25519 public key (PEM) whose signatures to accept; repeatable. Given: every record "
    "must be signed by one of them.",
)
@click.option("--require-signed", is_flag=True, help="Fail on any unsigned record.")
@click.option(
    "--anchor",
    metavar="HASH",
    help="A head hash printed by an earlier verify: fail unless the ledger still contains it "
    "(catches truncation and wholesale rewrites).",
)
@click.option(
    "--format", "format_", type=click.Choice(["text", "json"]), default="text", help="Output."
)
@no_cache_option
@click.option(
    "--server",
    metavar="URL",
    help="Verify the decision service's log over its API instead of a local ledger: its "
    "checkpoint, every record and the Merkle root, with the service's public key only "
    "(--trusted-key or GATEKEEPER_SERVER_PUBLIC_KEY; admin token in GATEKEEPER_TOKEN).",
)
def verify(
    ledger: str | None,
    config_file: str | None,
    trusted_keys: tuple[str, ...],
    require_signed: bool,
    anchor: str | None,
    format_: str,
    no_cache: bool,
    server: str | None,
) -> None:
    """Check the whole hash chain, signatures and head of the ledger.

    Exit 0 with the record count when intact; exit 1 naming the first record that was
    modified, deleted, inserted or reordered.
    """
    checkpoint_line = ""
    if server:
        if ledger:
            raise click.UsageError("--server and --ledger name two different ledgers: give one")
        from gatekeeper.ledger.remote_log import pinned_keys, verify_service_log

        checked = verify_service_log(
            server,
            public_keys=pinned_keys(trusted_keys, os.environ),
            env=os.environ,
            cwd=Path.cwd(),
            anchor=anchor,
        )
        result, location = checked.chain, server
        if checked.checkpoint is not None:
            checkpoint = checked.checkpoint
            checkpoint_line = (
                f"\ncheckpoint: {checkpoint.tree_size} records, root "
                f"{checkpoint.root_hash.hex()}, signed by {checkpoint.key_id}"
            )
    else:
        from gatekeeper.ledger.chain import verify_chain
        from gatekeeper.ledger.signing import load_public_key_id

        trusted = [load_public_key_id(Path(p)) for p in trusted_keys] if trusted_keys else None
        store = open_ledger(ledger, config_file)
        try:
            cache = prefix_cache(store, no_cache)
            result = verify_chain(
                store.records,
                head=store.head(),
                trusted_keys=trusted,
                require_signed=require_signed,
                anchor=anchor,
                parallel=True,  # this process's main module is safe for spawned workers
                prefix=cache.load(),
                digests=store.record_digests,
                records_after=lambda seq: store.records(after_seq=seq),
            )
            cache_done(cache, result)
            location = store.location
        finally:
            store.close()
    if format_ == "json":
        problem = result.problem
        click.echo(
            json.dumps(
                {
                    "ledger": location,
                    "intact": result.ok,
                    "records": result.count,
                    "head": result.head_hash,
                    "signed": result.signed,
                    "keys": list(result.key_ids),
                    "signatures_checked": result.signatures_checked,
                    "covered": result.covered,
                    "verified_cache_used": result.covered > 0,
                    "problem": None
                    if problem is None
                    else {
                        "kind": problem.kind,
                        "seq": problem.seq,
                        "decision_id": problem.decision_id,
                        "message": problem.message,
                    },
                },
                indent=2,
            )
        )
    elif result.problem is None:
        keys = f", signed by {', '.join(result.key_ids)}" if result.key_ids else ""
        click.echo(
            f"ledger intact: {result.count} records, {result.signed} signed{keys}\n"
            f"{result.signatures_checked} signatures checked, {result.covered} covered by the "
            f"verified prefix\nhead: {result.head_hash}{checkpoint_line}"
        )
    else:
        click.echo(f"ledger TAMPERED: {result.problem.message}")
        click.echo(f"{result.count} records before it verified")
    raise SystemExit(EXIT_PASS if result.ok else EXIT_FAIL)


def _violation_lines(prefix: str, keys: tuple[ViolationKey, ...]) -> list[str]:
    return [
        f"  {prefix} [{level}] {policy} {rule}: {message}" + (f" ({subject})" if subject else "")
        for policy, rule, subject, message, level in keys
    ]


def replay_text(result: ReplayResult) -> str:
    release = result.release
    name = " ".join(
        str(release[k]) for k in ("service", "version", "environment") if release.get(k)
    )
    comparison = result.comparison
    lines = [
        f"decision {result.decision_id} (record #{result.seq}){' — ' + name if name else ''}",
        f"engine {result.engine} {result.engine_version}"
        + (
            f" (recorded with {result.recorded_engine_version})"
            if result.engine_version != result.recorded_engine_version
            else ""
        ),
        f"outcome: recorded {comparison.recorded.outcome.value}, "
        f"replayed {comparison.replayed.outcome.value}",
    ]
    lines += [f"TAMPERED: {line}" for line in result.tampered]
    if result.identical:
        lines.append(
            f"IDENTICAL: {len(comparison.recorded.violations)} violations and "
            f"{len(comparison.recorded.waived)} waived reproduced exactly"
        )
    else:
        lines.append("DIFFERENT:")
        lines += _violation_lines("+ only in replay:", comparison.added)
        lines += _violation_lines("- only in record:", comparison.removed)
        lines += _violation_lines("+ waived only in replay:", comparison.waived_added)
        lines += _violation_lines("- waived only in record:", comparison.waived_removed)
    return "\n".join(lines)


@audit.command("replay")
@click.argument("decision_id")
@ledger_options
@server_source_option
@click.option(
    "--format", "format_", type=click.Choice(["text", "json"]), default="text", help="Output."
)
def replay(
    decision_id: str, ledger: str | None, config_file: str | None, server: str | None, format_: str
) -> None:
    """Re-evaluate DECISION_ID from its stored input and bundle with the recorded engine.

    Exit 0 when outcome and violations are identical; 1 when they differ or a stored input
    or bundle was altered.
    """
    from gatekeeper.audit.replay import comparison_document, replay_decision

    def blobs_of(record: StoredRecord) -> list[str]:
        # Only the replayed decision's input and bundle snapshot are fetched.
        if record.decision_id != decision_id:
            return []
        doc = record.document()
        bundle = doc.get("bundle") or {}
        found = [doc.get("input_digest"), bundle.get("snapshot")]
        return [digest for digest in found if isinstance(digest, str)]

    with ledger_source(ledger, config_file, server, blobs_of=blobs_of) as store:
        result = replay_decision(store, decision_id)
    if format_ == "json":
        document = {
            "decision_id": result.decision_id,
            "seq": result.seq,
            "release": result.release,
            "engine": result.engine,
            "engine_version": result.engine_version,
            "recorded_engine_version": result.recorded_engine_version,
            "identical": result.identical,
            "tampered": list(result.tampered),
            **{k: v for k, v in comparison_document(result.comparison).items() if k != "identical"},
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        click.echo(replay_text(result))
    raise SystemExit(EXIT_PASS if result.identical else EXIT_FAIL)


@audit.command("log")
@ledger_options
@click.option("--from", "start", metavar="DATE", help="Only records at or after DATE (ISO).")
@click.option("--to", "end", metavar="DATE", help="Only records before DATE (ISO).")
@click.option("--service", help="Only this service.")
@click.option(
    "--server",
    metavar="URL",
    help="List the decision service's decisions and deployment events instead of a local "
    "ledger's (token in GATEKEEPER_TOKEN: a project's, or admin for all; `audit verify "
    "--server` checks the log itself).",
)
def log(
    ledger: str | None,
    config_file: str | None,
    start: str | None,
    end: str | None,
    service: str | None,
    server: str | None,
) -> None:
    """List recorded decisions: sequence, time, decision id, outcome, release."""
    if server:
        if ledger:
            raise click.UsageError("--server and --ledger name two different ledgers: give one")
        try:
            _print_service_log(server, start=start, end=end, service=service)
        except BrokenPipeError:
            silence_stdout()
        return
    store = open_ledger(ledger, config_file)
    try:
        # `audit log | head` closes the pipe early: that is the reader's choice, not an error.
        try:
            _print_log(store, start=start, end=end, service=service)
        except BrokenPipeError:
            silence_stdout()
    finally:
        store.close()


def _print_log(
    store: LedgerStore, *, start: str | None, end: str | None, service: str | None
) -> None:
    for record in store.records(start=start, end=end, service=service):
        doc = record.document()
        release = doc.get("release") or {}
        name = " ".join(
            str(release[k]) for k in ("service", "version", "environment") if release.get(k)
        )
        click.echo(
            f"#{record.seq}\t{record.recorded_at}\t{record.decision_id}\t"
            f"{doc.get('outcome', '?')}\t{name}"
        )


def _print_service_log(
    url: str, *, start: str | None, end: str | None, service: str | None
) -> None:
    from gatekeeper.server.client import admin_call

    params = {"service": service} if service else {}
    listed: list[tuple[int, str, str, object, object]] = []
    # Decisions are named by their id, deployment events by their kind.
    for name, label in (("decisions", "decision_id"), ("deployments", "kind")):
        answer = admin_call(url, "GET", f"/v1/{name}", env=os.environ, params=params)
        for item in _items(answer, name):
            listed.append(
                (
                    int(item.get("log_index", -1)),
                    str(item.get("recorded_at", "")),
                    str(item.get(label)),
                    item.get("outcome"),
                    item.get("release"),
                )
            )
    for index, recorded_at, what, outcome, release in sorted(listed):
        if (start and recorded_at < start) or (end and recorded_at >= end):
            continue
        values = release if isinstance(release, dict) else {}
        name = " ".join(
            str(values[k]) for k in ("service", "version", "environment") if values.get(k)
        )
        click.echo(f"#{index + 1}\t{recorded_at}\t{what}\t{outcome or '?'}\t{name}")


def _items(answer: dict[str, object], name: str) -> list[dict[str, Any]]:
    from gatekeeper.ledger.remote import ServerAnswerError

    value = answer.get(name)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ServerAnswerError(f"decision service answer refused: no {name} list")
    return value


@audit.command("keygen")
@click.argument("path", type=click.Path(dir_okay=False))
def keygen(path: str) -> None:
    """Write a new Ed25519 signing key to PATH (and its public key to PATH.pub).

    Point GATEKEEPER_LEDGER_KEY at PATH on the machines that record decisions; give PATH.pub to
    `audit verify --trusted-key`.
    """
    from gatekeeper.ledger.signing import generate_key_pem, load_public_key_id

    private, public = generate_key_pem()
    target = Path(path)
    if target.exists():
        raise ConfigError("refusing to overwrite an existing key", path=path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(private)
        Path(f"{path}.pub").write_bytes(public)
    except OSError as exc:
        raise ConfigError(f"cannot write key: {exc.strerror}", path=path) from None
    click.echo(
        f"wrote {path} (private, mode 600) and {path}.pub (public): "
        f"key id {load_public_key_id(Path(f'{path}.pub'))}"
    )


def gate_ledger_options(function: _F) -> _F:
    """``gate run``'s ``--ledger`` / ``--no-ledger``."""
    function = click.option(
        "--no-ledger",
        is_flag=True,
        help="Do not record this decision in the ledger.",
    )(function)
    function = click.option(
        "--ledger",
        "ledger",
        metavar="PATH|URL",
        help="Record the decision in this ledger: a SQLite file or postgresql:// URL. Default: "
        "`ledger:` in gatekeeper.yaml, else $GATEKEEPER_LEDGER_URL, else .gatekeeper/ledger.db. "
        "A ledger that cannot be written makes the run exit 3.",
    )(function)
    return function


def record_gate_decision(
    result: GateResult, *, ledger: str | None, no_ledger: bool, config: GatekeeperConfig
) -> None:
    """Record after the decision is made and shown. A failure to record raises LedgerError
    (exit 3), so an unrecorded decision never exits 0 — and a failed gate stays non-zero."""
    if no_ledger:
        return
    from gatekeeper.audit.recorder import record_gate_run

    record_gate_run(result, ledger=ledger, config=config, env=os.environ, cwd=Path.cwd())


def _period_options(function: _F) -> _F:
    function = click.option("--service", help="Only this service's decisions.")(function)
    function = click.option(
        "--to",
        "end",
        metavar="DATE",
        help="End of the period (ISO date, inclusive; or an exact time). Default: now.",
    )(function)
    function = click.option(
        "--from",
        "start",
        metavar="DATE",
        help="Start of the period (ISO date or time). Default: the first record.",
    )(function)
    return function


def cached_compliance_report(
    store: LedgerStore,
    start: str | None,
    end: str | None,
    service: str | None,
    no_cache: bool,
    server: str | None,
) -> ComplianceReport:
    """The compliance report, its chain check reusing (and then extending) the verified
    prefix of ``audit verify``. (A service log's copy is a fresh file each time: no cache.)"""
    from gatekeeper.audit.compliance import compliance_report

    cache = None if server else prefix_cache(store, no_cache)
    return compliance_report(
        store,
        start=period_bound(start, option="--from"),
        end=period_bound(end, option="--to", end=True),
        service=service,
        parallel=True,
        prefix=cache.load() if cache is not None else None,
        on_chain=(lambda result: cache_done(cache, result)) if cache is not None else None,
    )


@audit.command("report")
@_period_options
@click.option(
    "--format",
    "format_",
    type=click.Choice(REPORT_FORMATS),
    default="html",
    help="html (one self-contained file, charts inline, printable), markdown, json, or csv "
    "(one row per decision).",
)
@click.option("-o", "--output", metavar="PATH", help="Write the report to PATH instead of stdout.")
@ledger_options
@server_source_option
@no_cache_option
def report(
    start: str | None,
    end: str | None,
    service: str | None,
    format_: str,
    output: str | None,
    ledger: str | None,
    config_file: str | None,
    server: str | None,
    no_cache: bool,
) -> None:
    """The compliance report for a period: releases and their decisions, pass rate over time,
    top failing policies, waivers used and expiring, and the control matrix."""
    from gatekeeper.ledger.report_render import get_renderer

    with ledger_source(ledger, config_file, server) as store:
        built = cached_compliance_report(store, start, end, service, no_cache, server)
    renderer = get_renderer(format_)
    chunks = getattr(renderer, "chunks", None)
    if callable(chunks):  # the JSON document is streamed
        write_chunks(chunks(built), output)
    else:
        write_output(renderer.render(built), output)


@audit.command("dora")
@click.option(
    "--from",
    "start",
    metavar="DATE",
    help="Start (ISO date or time). Default: the first deployment.",
)
@click.option(
    "--to", "end", metavar="DATE", help="End (ISO date, inclusive; or a time). Default: now."
)
@click.option("--service", help="Only this service.")
@click.option(
    "--env",
    "environment",
    default="production",
    show_default=True,
    help="The environment whose deployments count.",
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(["text", "json", "csv"]),
    default="text",
    show_default=True,
)
@click.option("-o", "--output", metavar="PATH", help="Write to PATH instead of stdout.")
@ledger_options
@server_source_option
def dora(
    start: str | None,
    end: str | None,
    service: str | None,
    environment: str,
    format_: str,
    output: str | None,
    ledger: str | None,
    config_file: str | None,
    server: str | None,
) -> None:
    """DORA's four keys from the ledger: deployment frequency, lead time for changes, change
    failure rate, time to restore; per service and overall, with performance bands, the
    records each number came from, and what is missing where one cannot be computed."""
    from gatekeeper.ledger.dora import dora_report, render_csv, render_text

    period = (period_bound(start, option="--from"), period_bound(end, option="--to", end=True))
    with ledger_source(ledger, config_file, server) as store:
        built = dora_report(
            store, start=period[0], end=period[1], service=service, environment=environment
        )
    if format_ == "json":
        text = json.dumps(built, indent=2, sort_keys=True)
    elif format_ == "csv":
        text = render_csv(built)
    else:
        text = render_text(built)
    write_output(text, output)


@audit.group("export")
def export() -> None:
    """Export decisions for other tools: SLSA VSA, OSCAL assessment results."""


@export.command("vsa")
@click.argument("decision_id")
@click.option("-o", "--output", metavar="PATH", help="Write to PATH instead of stdout.")
@ledger_options
@server_source_option
def export_vsa(
    decision_id: str,
    output: str | None,
    ledger: str | None,
    config_file: str | None,
    server: str | None,
) -> None:
    """An in-toto Statement v1 with a SLSA Verification Summary (verification_summary/v1)
    for DECISION_ID: verifier, timeVerified, resourceUri, policy digest, inputAttestations,
    verificationResult. Unsigned: sign it with your attestation tooling."""
    from gatekeeper.ledger.decisions import find_decision
    from gatekeeper.ledger.export import vsa_statement

    with ledger_source(ledger, config_file, server) as store:
        statement = vsa_statement(find_decision(store, decision_id))
    write_output(json.dumps(statement, indent=2, ensure_ascii=False), output)


@export.command("oscal")
@_period_options
@click.option("-o", "--output", metavar="PATH", help="Write to PATH instead of stdout.")
@ledger_options
@server_source_option
@no_cache_option
def export_oscal(
    start: str | None,
    end: str | None,
    service: str | None,
    output: str | None,
    ledger: str | None,
    config_file: str | None,
    server: str | None,
    no_cache: bool,
) -> None:
    """An OSCAL assessment-results document (OSCAL 1.1.2) for a period: one observation per
    decision, one finding per control with its satisfied / not-satisfied state."""
    from gatekeeper.ledger.export import oscal_assessment_results

    with ledger_source(ledger, config_file, server) as store:
        built = cached_compliance_report(store, start, end, service, no_cache, server)
    write_output(json.dumps(oscal_assessment_results(built), indent=2, ensure_ascii=False), output)
