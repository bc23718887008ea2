"""``gatekeeper serve``: the decision service, and its tokens (docs/server.md)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from gatekeeper.model import Level
from gatekeeper.policy.engines.registry import DEFAULT_ENGINE, ENGINES
from gatekeeper.server.service import (
    DEFAULT_STATE_DIR,
    MAX_UPLOAD_BYTES,
    ServiceSettings,
    StatePaths,
    open_service,
)
from gatekeeper.server.tokens import Scope, TokenStore

_state_dir = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_STATE_DIR,
    show_default=True,
    help="Folder of the service's ledger, token database and checkpoint file.",
)


_tokens = click.option(
    "--tokens",
    "tokens_location",
    metavar="PATH|URL",
    help="The token database: a SQLite file (default STATE_DIR/tokens.db) or a postgresql:// "
    "URL, which replicas on several hosts share (it may be the ledger's database).",
)


def _token_store(state_dir: Path, tokens_location: str | None) -> TokenStore:
    return TokenStore(StatePaths(state_dir=state_dir, tokens=tokens_location).tokens_location)


@click.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@_state_dir
@click.option("--ledger", help="Ledger URL or path (default: STATE_DIR/ledger.db).")
@_tokens
@click.option(
    "--checkpoint-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the last signed checkpoint is kept, outside the database "
    "(default: STATE_DIR/checkpoint.json).",
)
@click.option(
    "--key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ed25519 PEM signing key, readable by the service alone "
    "(or GATEKEEPER_SERVER_KEY_FILE / GATEKEEPER_SERVER_KEY).",
)
@click.option(
    "--previous-key",
    "previous_keys",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="PEM public key the service signed with before a rotation (repeatable): its records "
    "and checkpoint stay trusted; new ones are signed with --key.",
)
@click.option("-p", "--policy", "policies", multiple=True, help="Policy paths (default: built-in).")
@click.option("-d", "--data", multiple=True, help="Data files for the policies.")
@click.option("--engine", type=click.Choice(sorted(ENGINES)), default=DEFAULT_ENGINE)
@click.option("-n", "--namespace", "namespaces", multiple=True, help="Namespace globs.")
@click.option("--fail-on", type=click.Choice(["deny", "warn"]), default="deny", show_default=True)
@click.option(
    "--max-upload-bytes",
    type=click.IntRange(1),
    default=MAX_UPLOAD_BYTES,
    show_default=True,
    help="Bound on one submission's request body.",
)
@click.option("--origin", default="gatekeeper", show_default=True, help="The log's name.")
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    state_dir: Path,
    ledger: str | None,
    tokens_location: str | None,
    checkpoint_file: Path | None,
    key: Path | None,
    previous_keys: tuple[Path, ...],
    policies: tuple[str, ...],
    data: tuple[str, ...],
    engine: str,
    namespaces: tuple[str, ...],
    fail_on: str,
    max_upload_bytes: int,
    origin: str,
) -> None:
    """Run the decision service (HTTP): judge submitted evidence, sign and record decisions
    in a Merkle log, answer for them. Refuses to start when its database no longer matches
    its last checkpoint."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn  # only when serving: `serve token …` does not need it

    from gatekeeper.gate.run import load_gate_bundle
    from gatekeeper.server.app import create_app

    settings = ServiceSettings(
        policies=policies,
        data=data,
        engine=engine,
        namespaces=namespaces,
        fail_on=Level(fail_on),
        max_upload_bytes=max_upload_bytes,
    )
    load_gate_bundle(policies, data)  # a bundle that does not load fails now, not per request
    service = open_service(
        StatePaths(
            state_dir=state_dir,
            ledger=ledger,
            checkpoint=checkpoint_file,
            tokens=tokens_location,
        ),
        settings,
        key_path=key,
        env=os.environ,
        cwd=Path.cwd(),
        origin=origin,
        previous_keys=previous_keys,
    )
    try:
        click.echo(
            f"gatekeeper serve: log {origin!r} at size {service.log.tree.size}, "
            f"key {service.signer.key_id}, listening on http://{host}:{port}",
            err=True,
        )
        uvicorn.run(create_app(service), host=host, port=port, log_level="warning")
    finally:
        service.close()


@serve.group("token")
def token() -> None:
    """Create, list and revoke API tokens (hashed at rest; shown once)."""


@token.command("create")
@_state_dir
@_tokens
@click.option("--project", required=True, help="The project (= the release's service name).")
@click.option(
    "--scope",
    type=click.Choice([s.value for s in Scope]),
    required=True,
    help="submit: submit and read its project; read: read its project; admin: read all.",
)
@click.option("--description", default="", help="Who or what holds it.")
def token_create(
    state_dir: Path, tokens_location: str | None, project: str, scope: str, description: str
) -> None:
    """Print a new token on stdout (the only time it is shown)."""
    store = _token_store(state_dir, tokens_location)
    try:
        text, info = store.create(project, Scope(scope), description)
    finally:
        store.close()
    click.echo(f"created token {info.id} for project {project} (scope {scope})", err=True)
    click.echo(text)


@token.command("list")
@_state_dir
@_tokens
def token_list(state_dir: Path, tokens_location: str | None) -> None:
    store = _token_store(state_dir, tokens_location)
    try:
        for info in store.all():
            state = f"revoked {info.revoked_at}" if info.revoked_at else "active"
            click.echo(
                f"{info.id}  {info.project}  {info.scope.value}  {state}  {info.description}"
            )
    finally:
        store.close()


@token.command("revoke")
@_state_dir
@_tokens
@click.argument("token_id")
def token_revoke(state_dir: Path, tokens_location: str | None, token_id: str) -> None:
    """Revoke TOKEN_ID (the id `token list` shows, or the token itself)."""
    store = _token_store(state_dir, tokens_location)
    try:
        revoked = store.revoke(token_id)
    finally:
        store.close()
    if not revoked:
        raise click.ClickException(f"no active token {token_id}")
    click.echo(f"revoked {token_id}", err=True)


@serve.command("verify")
@_state_dir
@click.option("--ledger", help="Ledger URL or path (default: STATE_DIR/ledger.db).")
@click.option(
    "--checkpoint-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The service's checkpoint file (default: STATE_DIR/checkpoint.json).",
)
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The service's PEM public key; repeat for keys used before a rotation.",
)
@click.option("--origin", default="gatekeeper", show_default=True, help="The log's name.")
def verify(
    state_dir: Path,
    ledger: str | None,
    checkpoint_file: Path | None,
    public_keys: tuple[Path, ...],
    origin: str,
) -> None:
    """Check the service's database against its checkpoint file with public keys only (what
    start-up checks): exit 0 when it matches, 1 naming what happened when it does not."""
    from gatekeeper.ledger.registry import open_store
    from gatekeeper.server.errors import LogMismatch
    from gatekeeper.server.keys import load_public_key
    from gatekeeper.server.log import verify_log

    paths = StatePaths(state_dir=state_dir, ledger=ledger, checkpoint=checkpoint_file)
    trusted = [load_public_key(path) for path in public_keys]
    store = open_store(paths.ledger_url, base=Path.cwd(), create=False)
    try:
        verified = verify_log(store, trusted, paths.checkpoint_path, origin=origin)
    except LogMismatch as mismatch:
        click.echo(f"gatekeeper: log does not verify: {mismatch.one_line()}", err=True)
        raise SystemExit(1) from None
    finally:
        store.close()
    checkpoint = verified.checkpoint
    size = checkpoint.tree_size if checkpoint else 0
    click.echo(
        f"log OK: {verified.tree.size} records, root {verified.tree.root().hex()}; "
        f"checkpoint of {size} records matches"
    )


_server = click.option(
    "--server",
    envvar="GATEKEEPER_SERVER",
    required=True,
    help="The decision service's URL (or GATEKEEPER_SERVER); the token is GATEKEEPER_TOKEN.",
)
_environment = click.option(
    "--env",
    "environment",
    required=True,
    help="Environment name as releases give it, or '*' for every one without its own.",
)


@serve.group("bundle")
def bundle_group() -> None:
    """Policy bundle versions on a running service: upload, list, activate, roll back.

    Changes need an admin token; each is a signed record of the service's log."""


@bundle_group.command("upload")
@_server
@click.argument("archive", type=click.Path(dir_okay=False))
def bundle_upload(server: str, archive: str) -> None:
    """Upload ARCHIVE (the .tar.gz `gatekeeper policy bundle` builds); prints its digest.
    The service refuses an archive whose policies do not load or compile."""
    from gatekeeper.loading import read_regular_file
    from gatekeeper.server.bundles import MAX_BUNDLE_BYTES
    from gatekeeper.server.client import admin_call

    content = read_regular_file(archive, max_bytes=MAX_BUNDLE_BYTES)
    answer = admin_call(
        server,
        "POST",
        "/v1/bundles",
        env=os.environ,
        content=content,
        headers={"Content-Type": "application/gzip"},
    )
    bundle = _mapping(answer.get("bundle"))
    what = "uploaded" if answer.get("recorded") else "already uploaded"
    revision = bundle.get("revision")
    click.echo(f"{what} bundle {bundle.get('digest')} (revision {revision})", err=True)
    click.echo(str(bundle.get("digest")))


@bundle_group.command("list")
@_server
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
def bundle_list(server: str, output_format: str) -> None:
    """The uploaded bundles, which is active where, and the activation history."""
    import json

    from gatekeeper.server.client import admin_call

    answer = admin_call(server, "GET", "/v1/bundles", env=os.environ)
    if output_format == "json":
        click.echo(json.dumps(answer, indent=2, sort_keys=True))
        return
    active = _mapping(answer.get("active"))
    for item in answer.get("bundles") or []:  # type: ignore[attr-defined]
        version = _mapping(item)
        digest = version.get("digest")
        where = sorted(env for env, d in active.items() if d == digest)
        click.echo(
            f"{digest}  {version.get('revision')}  {version.get('uploaded_at')}  "
            f"{version.get('modules')} modules  "
            + (f"active: {', '.join(where)}" if where else "inactive")
        )


@bundle_group.command("activate")
@_server
@_environment
@click.argument("digest")
def bundle_activate(server: str, environment: str, digest: str) -> None:
    """Gates for the environment judge with the uploaded bundle DIGEST from now on."""
    _print_activation(
        _activation_call(server, "PUT", environment, "bundle", json={"digest": digest})
    )


@bundle_group.command("rollback")
@_server
@_environment
def bundle_rollback(server: str, environment: str) -> None:
    """Activate the bundle that was active before the current one (repeat to go further)."""
    _print_activation(_activation_call(server, "POST", environment, "bundle/rollback"))


def _activation_call(
    server: str, method: str, environment: str, action: str, *, json: object = None
) -> dict[str, object]:
    from urllib.parse import quote

    from gatekeeper.server.bundles import check_environment
    from gatekeeper.server.client import admin_call

    check_environment(environment)  # the service checks too; say it before a request
    path = f"/v1/environments/{quote(environment, safe='')}/{action}"
    return admin_call(server, method, path, env=os.environ, json=json)


def _print_activation(answer: dict[str, object]) -> None:
    activation = _mapping(answer.get("activation"))
    entry = _mapping(answer.get("entry"))
    back = activation.get("rollback_of")
    click.echo(
        f"{activation.get('environment')}: bundle {activation.get('digest')} active"
        + (f" (rolled back from {back})" if back else "")
        + f", log entry {entry.get('log_index')}"
    )


def _mapping(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


@serve.group("waivers")
def waivers_group() -> None:
    """Each project's waivers on a running service (admin token to set them).

    The service applies the project's waivers to every submission; a runner's own
    .gatekeeper/waivers.yaml is never used with --server."""


@waivers_group.command("set")
@_server
@click.option("--project", required=True, help="The project (= the release's service name).")
@click.argument("waivers_file", type=click.Path(dir_okay=False))
def waivers_set(server: str, project: str, waivers_file: str) -> None:
    """Replace PROJECT's waivers with WAIVERS_FILE (checked as gate run checks one; an empty
    file clears them)."""
    from urllib.parse import quote

    from gatekeeper.gate.waivers import MAX_WAIVERS_BYTES
    from gatekeeper.loading import read_regular_file
    from gatekeeper.server.client import admin_call

    content = read_regular_file(waivers_file, max_bytes=MAX_WAIVERS_BYTES)
    answer = admin_call(
        server,
        "PUT",
        f"/v1/projects/{quote(project, safe='')}/waivers",
        env=os.environ,
        content=content,
        headers={"Content-Type": "application/yaml"},
    )
    current = _mapping(answer.get("waivers"))
    entry = _mapping(answer.get("entry"))
    click.echo(
        f"{project}: {current.get('waivers')} waiver(s) in force ({current.get('digest')}), "
        f"log entry {entry.get('log_index')}"
    )


@waivers_group.command("show")
@_server
@click.option("--project", required=True, help="The project (= the release's service name).")
def waivers_show(server: str, project: str) -> None:
    """Print PROJECT's waivers file as the service applies it (nothing when none is set)."""
    from urllib.parse import quote

    from gatekeeper.server.client import admin_call

    answer = admin_call(
        server, "GET", f"/v1/projects/{quote(project, safe='')}/waivers", env=os.environ
    )
    current = _mapping(answer.get("current"))
    if not current:
        click.echo(f"{project}: no waivers set", err=True)
        return
    click.echo(
        f"{project}: set {current.get('set_at')} by {current.get('set_by')}, "
        f"log entry {current.get('log_index')}",
        err=True,
    )
    click.echo(str(current.get("text", "")), nl=False)
