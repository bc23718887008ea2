"""The local target: each version runs as N worker processes behind the proxy daemon.

Process model (why the proxy is a separate daemon): the deployer CLI is short-lived and can be
killed mid-rollout. The proxy daemon (``python -m gatekeeper.deploy.proxy``) and the workers
run in their own sessions, so they keep serving at the last weights when the deployer dies;
the deployer drives the proxy through its admin API and persists everything it starts in
``state.json``. The next deployer takes the directory's lock (a ``flock`` the kernel releases
when its holder dies), sees an unfinished rollout and recovers it
(:mod:`gatekeeper.deploy.recovery` decides; this target restarts a dead proxy, drops dead or
never-ready workers, stops processes the state does not account for, and tops the stable
pool up).

Lease: while the deployer drives a split of traffic it holds a lease on it in the proxy and
renews it from a heartbeat thread (``lease_seconds``, renewed every third of it). A deployer
that dies (``kill -9``) stops beating, and one lease later the proxy itself returns all traffic
to the stable version and records why, with no command run. A paused rollout (waiting for a
manual promote, with no deployer running) holds its split without a lease.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any, ClassVar, Self

from gatekeeper.deploy.errors import DeployError
from gatekeeper.deploy.local import process
from gatekeeper.deploy.proxy.client import Heartbeat, PoolRoute, ProxyClient, SampleFeed
from gatekeeper.deploy.service_config import ServiceDeployConfig
from gatekeeper.deploy.state import (
    Phase,
    ProxyRecord,
    ReleaseRecord,
    WorkerRecord,
    state_dir,
)
from gatekeeper.deploy.target import (
    CANARY,
    STABLE,
    StatefulTarget,
    TargetCapabilities,
    pool_field,
)

PROXY_READY_TIMEOUT_S = 15.0
START_ATTEMPTS = 3  # per worker: a free port can be taken between our probe and its bind
LOG_TAIL_BYTES = 600


class LocalTarget(StatefulTarget):
    name: ClassVar[str] = "local"
    capabilities: ClassVar[TargetCapabilities] = TargetCapabilities(
        runs_code_folder=True,
        request_samples=True,
        worker_logs=True,
        mirrors_traffic=True,
        fresh_baseline=True,
        tears_down=True,
    )

    @classmethod
    def open(
        cls, service: str, config: ServiceDeployConfig, *, root: Path, lock: bool = True
    ) -> Self:
        return cls(service, config, root=root, lock=lock)

    def sample_feed(self, *, history: bool = False) -> SampleFeed:
        return SampleFeed(self.proxy(), start_at_now=not history)

    def __init__(
        self,
        service: str,
        config: ServiceDeployConfig,
        *,
        root: Path,
        lock: bool = True,
    ) -> None:
        self.config = config
        super().__init__(service, state_dir(root.resolve(), service), lock=lock)
        self._client: ProxyClient | None = None
        self._heartbeat: Heartbeat | None = None
        # Mirroring lasts one analysis of this deployer: it is never persisted, and it holds
        # a lease like a split, so a dead deployer's proxy stops it on its own.
        self._mirror = 0

    def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        super().close()

    def set_progress(
        self,
        *,
        phase: Phase | None = None,
        step_index: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().set_progress(phase=phase, step_index=step_index, reason=reason)
        if phase is Phase.PAUSED and self._client is not None:
            with self._mutex:
                self._push_routes()  # a paused split outlives this deployer: no lease

    def _renew_lease(self, seconds: float) -> None:
        client = self._client
        if client is not None:
            client.heartbeat(seconds)

    def _lease(self) -> float | None:
        """The lease to hold on the routes pushed now: while this deployer drives a split."""
        if self._state.phase is Phase.PAUSED or (
            self._state.canary_weight <= 0 and self._mirror <= 0
        ):
            return None
        return self.config.lease_seconds

    # -- plumbing --------------------------------------------------------------------------

    @property
    def replicas(self) -> int:
        return self.config.replicas

    def _release_of(self, pool: str) -> ReleaseRecord:
        release = self._state.canary if pool == CANARY else self._state.stable
        if release is None:
            raise DeployError(f"no {pool} release to start workers of")
        return release

    # -- the proxy daemon ------------------------------------------------------------------

    def proxy(self) -> ProxyClient:
        """A client for the running proxy daemon, starting (or restarting) it when needed."""
        with self._mutex:
            if self._client is not None and self._client.healthy():
                return self._client
            record = self._state.proxy
            if record is not None and process.is_alive(record.pid, record.start_time):
                client = ProxyClient(record.admin_port, self._read_token(record))
                if client.healthy():
                    self._client = client
                    return client
                # Alive but deaf: replace it rather than route through something broken.
                process.stop(record.pid, record.start_time, self.config.stop_grace_period)
            self._client = self._start_proxy()
            self._push_routes()
            return self._client

    def _read_token(self, record: ProxyRecord) -> str | None:
        try:
            return Path(record.token_file).read_text(encoding="utf-8").strip()
        except OSError:
            return None

    def _start_proxy(self) -> ProxyClient:
        token = secrets.token_urlsafe(32)
        token_file = self.dir / "proxy.token"
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token)
        ready_file = self.dir / "proxy.json"
        ready_file.unlink(missing_ok=True)
        env = {
            **os.environ,
            process.MARK_STATE_DIR: str(self.dir),
            process.MARK_ROLE: "proxy",
        }
        argv = [
            sys.executable,
            "-m",
            "gatekeeper.deploy.proxy",
            "--port",
            str(self.config.proxy_port),
            "--token-file",
            str(token_file),
            "--ready-file",
            str(ready_file),
            "--drain-timeout",
            str(self.config.drain_timeout),
        ]
        logs = self.dir / "logs"
        pid, started = process.spawn(
            argv,
            cwd=self.dir,
            env=env,
            stdout=logs / "proxy.stdout.log",
            stderr=logs / "proxy.stderr.log",
        )
        deadline = time.monotonic() + PROXY_READY_TIMEOUT_S
        info: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            if not process.is_alive(pid, started):
                break
            if ready_file.is_file():
                import json

                with contextlib.suppress(ValueError, OSError):
                    info = json.loads(ready_file.read_text(encoding="utf-8"))
                if info:
                    break
            time.sleep(0.05)
        if not info:
            process.stop(pid, started, 1.0)
            tail = _tail(logs / "proxy.stderr.log")
            raise DeployError(
                f"the proxy did not start on 127.0.0.1:{self.config.proxy_port}: {tail}"
            )
        record = ProxyRecord(
            pid=pid,
            start_time=started,
            port=int(info["port"]),
            admin_port=int(info["admin_port"]),
            token_file=str(token_file),
        )
        self._save(proxy=record)
        return ProxyClient(record.admin_port, token)

    def _push_routes(self) -> tuple[str, ...]:
        """Make the proxy's table match the state; returns workers that did not drain."""
        state = self._state
        client = self._client or self.proxy()

        def route(release: ReleaseRecord | None, workers: tuple[WorkerRecord, ...]) -> PoolRoute:
            ready = tuple((w.id, w.port) for w in workers if w.ready)
            return PoolRoute(release.version if release else "", ready)

        lease = self._lease()
        result = client.put_routes(
            route(state.stable, state.stable_workers),
            route(state.canary, state.canary_workers),
            state.canary_weight,
            self.config.drain_timeout,
            lease_seconds=lease,
            mirror=self._mirror,
            baseline=route(state.stable, state.baseline_workers),
        )
        if lease is not None and self._heartbeat is None:
            self._heartbeat = Heartbeat(self._renew_lease, lease).start()
        return result.timed_out

    # -- workers ---------------------------------------------------------------------------

    def _worker_env(self, release: ReleaseRecord, pool: str, port: int) -> dict[str, str]:
        return {
            **os.environ,
            **self.config.env,
            **release.env,
            self.config.port_env: str(port),
            process.MARK_STATE_DIR: str(self.dir),
            process.MARK_ROLE: f"worker:{pool}:{release.version}",
        }

    def _spawn_worker(self, pool: str, release: ReleaseRecord) -> WorkerRecord:
        port = process.free_port()
        worker_id = f"{release.version}-{port}"
        logs = self.dir / "logs" / release.version
        stdout, stderr = logs / f"{worker_id}.stdout.log", logs / f"{worker_id}.stderr.log"
        pid, started = process.spawn(
            self.config.start,
            cwd=Path(release.workdir),
            env=self._worker_env(release, pool, port),
            stdout=stdout,
            stderr=stderr,
        )
        record = WorkerRecord(
            id=worker_id,
            version=release.version,
            pid=pid,
            start_time=started,
            port=port,
            stdout=str(stdout),
            stderr=str(stderr),
        )
        # Recorded before the readiness check: a deployer killed while waiting leaves a record.
        field = pool_field(pool)
        self._save(**{field: (*getattr(self._state, field), record)})
        return record

    def _replace_record(self, pool: str, old: WorkerRecord, new: WorkerRecord | None) -> None:
        field = pool_field(pool)
        workers = tuple(
            (new if w.id == old.id else w) for w in getattr(self._state, field) if new or w != old
        )
        self._save(**{field: tuple(w for w in workers if w is not None)})

    def add_workers(self, pool: str, count: int) -> None:
        with self._mutex:
            release = self._release_of(pool)
            pending = [self._spawn_worker(pool, release) for _ in range(count)]
            attempts = 1
            while pending:
                failed: list[tuple[WorkerRecord, str]] = []
                # All were spawned together, so waiting for each in turn costs one start-up.
                for record in pending:
                    why = process.wait_ready(
                        record.pid,
                        record.start_time,
                        record.port,
                        self.config.health_path,
                        self.config.readiness_timeout,
                    )
                    if why is None:
                        self._replace_record(
                            pool, record, record.model_copy(update={"ready": True})
                        )
                    else:
                        process.stop(record.pid, record.start_time, self.config.stop_grace_period)
                        self._replace_record(pool, record, None)
                        failed.append((record, why))
                if not failed:
                    break
                record, why = failed[0]
                # Only an early exit can be a lost port race; a worker that ran and never got
                # healthy would fail the same way again.
                if attempts >= START_ATTEMPTS or "exited" not in why:
                    self._push_routes()
                    raise DeployError(
                        f"worker {record.id} of {release.version} {why}; "
                        f"stderr ({record.stderr}): {_tail(Path(record.stderr))}"
                    )
                attempts += 1
                pending = [self._spawn_worker(pool, release) for _ in failed]
            self._push_routes()

    def remove_workers(self, pool: str, count: int) -> None:
        with self._mutex:
            field = pool_field(pool)
            workers: tuple[WorkerRecord, ...] = getattr(self._state, field)
            # Oldest first: those have served longest and are furthest from the new version.
            leaving, staying = workers[:count], workers[count:]
            self._save(**{field: staying})
            self._drain_and_stop(leaving)

    def _drain_and_stop(self, leaving: tuple[WorkerRecord, ...]) -> None:
        self._push_routes()  # returns once the leaving workers are drained (bounded)
        for record in leaving:
            process.stop(record.pid, record.start_time, self.config.stop_grace_period)

    # -- rollout verbs ---------------------------------------------------------------------

    def begin(self, release: ReleaseRecord, strategy: str) -> None:
        with self._mutex:
            if self._state.phase.in_flight:
                raise DeployError(
                    f"a {self._state.strategy} rollout of {self._version(CANARY)} is unfinished "
                    f"(phase {self._state.phase}); recover, promote or roll it back first"
                )
            self.proxy()
            if self._state.stable is None or not self._state.stable_workers:
                # First deploy: there is nothing to compare with, the release becomes stable.
                self._save(
                    stable=release,
                    canary=None,
                    canary_weight=0,
                    strategy=strategy,
                    phase=Phase.PROGRESSING,
                    step_index=-1,
                    reason=None,
                )
            else:
                self._save(
                    canary=release,
                    canary_workers=(),
                    canary_weight=0,
                    strategy=strategy,
                    phase=Phase.PROGRESSING,
                    step_index=-1,
                    reason=None,
                )

    def _version(self, pool: str) -> str:
        release = self._state.stable if pool == STABLE else self._state.canary
        return release.version if release else "-"

    def set_canary_weight(self, weight: int) -> None:
        with self._mutex:
            self._save(canary_weight=weight)
            self._push_routes()

    def set_mirror(self, share: int) -> None:
        if not 0 <= share <= 100:
            raise ValueError("mirror share must be 0..100")
        with self._mutex:
            self._mirror = share
            self._push_routes()

    def promote(self, reason: str) -> None:
        with self._mutex:
            state = self._state
            if state.canary is None:  # first deploy, or a promotion that already swapped pools
                self._save(phase=Phase.STABLE, canary_weight=0, reason=reason)
                self.stop_unrecorded()
                return
            self._save(phase=Phase.PROMOTING)
            missing = self.replicas - sum(1 for w in state.canary_workers if w.ready)
            if missing > 0:
                self.add_workers(CANARY, missing)
            old = (*self._state.stable_workers, *self._state.baseline_workers)
            self._save(
                stable=self._state.canary,
                stable_workers=self._state.canary_workers,
                canary=None,
                canary_workers=(),
                baseline_workers=(),
                canary_weight=0,
            )
            self._drain_and_stop(old)
            self._save(phase=Phase.STABLE, reason=reason, step_index=-1)

    def rollback(self, reason: str) -> None:
        with self._mutex:
            self._save(phase=Phase.ROLLING_BACK, reason=reason)
            state = self._state
            if state.stable is not None:
                # A rolling update shrank stable: bring it back to strength before the canary
                # goes, so that the remaining workers are never overloaded.
                missing = self.replicas - sum(1 for w in state.stable_workers if w.ready)
                if missing > 0:
                    self.add_workers(STABLE, missing)
            leaving = (*self._state.canary_workers, *self._state.baseline_workers)
            update: dict[str, Any] = {
                "canary": None,
                "canary_workers": (),
                "baseline_workers": (),
                "canary_weight": 0,
            }
            if state.stable is None:
                update.update(stable_workers=(), stable=None)
                leaving = (*leaving, *state.stable_workers)
            self._save(**update)
            self._drain_and_stop(leaving)
            self._save(phase=Phase.STABLE if self._state.stable else Phase.IDLE, step_index=-1)

    # -- recovery, status, teardown --------------------------------------------------------

    def repair_traffic(self) -> None:
        with self._mutex:
            self.proxy()  # restarts a dead proxy with the recorded routes

    def drop_dead_workers(self) -> tuple[int, ...]:
        with self._mutex:
            state = self._state

            # A worker recorded but never marked ready has not been health-checked: drop it too.
            def kept(workers: tuple[WorkerRecord, ...]) -> tuple[WorkerRecord, ...]:
                return tuple(
                    w for w in workers if w.ready and process.is_alive(w.pid, w.start_time)
                )

            self._save(
                stable_workers=kept(state.stable_workers),
                canary_workers=kept(state.canary_workers),
                baseline_workers=kept(state.baseline_workers),
            )
            left = {w.pid for w in self._state.all_workers()}
            dropped = [w for w in state.all_workers() if w.pid not in left]
            for worker in dropped:  # not ready or gone: make sure nothing is left of its group
                process.stop(worker.pid, worker.start_time, self.config.stop_grace_period)
            return tuple(w.pid for w in dropped)

    def canary_ready(self) -> bool:
        return any(w.ready for w in self._state.canary_workers)

    def reconcile(self) -> bool:
        with self._mutex:
            missing = self.replicas - len(self._state.stable_workers)
            started = self._state.stable is not None and missing > 0
            if started:
                self.add_workers(STABLE, missing)
            # A baseline outlives its canary only when a deployer died in between.
            leftover = self._state.baseline_workers if self._state.canary is None else ()
            if leftover:
                self._save(baseline_workers=())
                self._drain_and_stop(leftover)
            else:
                self._push_routes()
            return started or bool(leftover)

    def running_pids(self) -> frozenset[int]:
        return frozenset(w.pid for w in self._state.all_workers())

    def stop_unrecorded(self) -> tuple[int, ...]:
        """Stop processes started for this service that the state does not account for."""
        keep = {w.pid for w in self._state.all_workers()}
        if self._state.proxy is not None:
            keep.add(self._state.proxy.pid)
        stopped: list[int] = []
        for pid, started, _role in process.find_marked(self.dir):
            try:
                group = os.getpgid(pid)
            except ProcessLookupError:
                continue
            if pid in keep or group in keep:  # a recorded process or one of its children
                continue
            process.stop(pid, started, self.config.stop_grace_period)
            stopped.append(pid)
        return tuple(stopped)

    def observe(self) -> dict[str, Any]:
        """State plus what is actually running; never starts or stops anything."""
        state = self._state
        proxy_state: dict[str, Any] | None = None
        proxy_alive = False
        if state.proxy is not None and process.is_alive(state.proxy.pid, state.proxy.start_time):
            client = ProxyClient(state.proxy.admin_port, self._read_token(state.proxy))
            with contextlib.suppress(DeployError):
                proxy_state = client.state()
                proxy_alive = True
        return {
            "state": state.model_dump(mode="json", by_alias=True),
            "proxy_alive": proxy_alive,
            "proxy": proxy_state,
            "workers_alive": {
                w.id: process.is_alive(w.pid, w.start_time) for w in state.all_workers()
            },
        }

    def teardown(self) -> None:
        """Stop every worker and the proxy of this service (e.g. ``deploy stop``, tests)."""
        with self._mutex:
            # Proxy first: it closes its keep-alive connections, so workers can stop at once.
            if self._state.proxy is not None:
                process.stop(self._state.proxy.pid, self._state.proxy.start_time, 5.0)
            for worker in self._state.all_workers():
                process.stop(worker.pid, worker.start_time, self.config.stop_grace_period)
            self._client = None
            self._save(
                stable_workers=(),
                canary_workers=(),
                baseline_workers=(),
                canary=None,
                canary_weight=0,
                proxy=None,
                phase=Phase.IDLE,
            )
            for pid, started, _role in process.find_marked(self.dir):
                process.stop(pid, started, 1.0)


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - LOG_TAIL_BYTES))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return (
        " | ".join(line for line in text.splitlines() if line.strip())[-LOG_TAIL_BYTES:]
        or "(empty)"
    )
