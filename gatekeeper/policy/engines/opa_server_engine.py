"""Engine ``opa-server``: evaluation by an OPA-compatible server over its REST API, through
``opa-python-client`` — for organisations that already run an OPA fleet, or a Gatekeeper
decision service (``gatekeeper serve`` answers OPA's Data API).

A server evaluates the policies *it* holds, not the files of this run. So before any query the
engine lists the server's policies and requires every (non-test) module of the run's bundle to
be there with the identical source; otherwise the decision would silently come from other
policies, and the run stops with exit 3 naming the first module that differs. Bundle data is
the server's own and is not compared (docs/engines.md).

Every failure — server unreachable, timeout, an HTTP error, an answer that is not OPA's JSON —
is an :class:`~gatekeeper.errors.EngineError` (exit 3), never an undefined result, which a gate
would read as "no violations". The client's default timeout (1.5 s) is too short for gate
inputs: each request gets the run's engine timeout.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from importlib import metadata
from typing import Any, ClassVar
from urllib.parse import urlsplit

from gatekeeper.errors import EngineError
from gatekeeper.policy.builtins import builtin_names
from gatekeeper.policy.bundle import PolicyBundle
from gatekeeper.policy.engines.guard import check_queries
from gatekeeper.policy.engines.interface import DEFAULT_TIMEOUT_S, EvalResult, TestRunResult

URL_ENV = "GATEKEEPER_OPA_URL"
TOKEN_ENV = "GATEKEEPER_OPA_TOKEN"  # noqa: S105 - the variable's name, not a secret
_SEGMENT_RE = re.compile(r'\.([A-Za-z_][A-Za-z0-9_]*)|\[("(?:[^"\\]|\\.)*")\]')


def query_path(query: str) -> list[str]:
    """``data.a["b-c"].d`` -> ``["a", "b-c", "d"]`` (the Data API's URL path)."""
    check_queries((query,))
    rest = query[len("data") :]
    parts: list[str] = []
    for match in _SEGMENT_RE.finditer(rest):
        parts.append(match.group(1) if match.group(1) is not None else json.loads(match.group(2)))
    if any("." in part or "/" in part for part in parts):
        raise EngineError(
            f"opa-server cannot address {query!r} over the Data API (a '.' or '/' "
            "in a path segment)"
        )
    return parts


def _client_version() -> str:
    try:
        return metadata.version("opa-python-client")
    except metadata.PackageNotFoundError:
        raise EngineError(
            "the opa-server engine needs the opa-python-client package (pip install "
            "opa-python-client)"
        ) from None


class OpaServerEngine:
    name: ClassVar[str] = "opa-server"
    description: ClassVar[str] = (
        "an OPA-compatible server over its REST API (opa-python-client; --opa-url or "
        f"{URL_ENV}); the server must hold the bundle's modules"
    )

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        environ = os.environ if env is None else env
        self.url = environ.get(URL_ENV, "").strip()
        self.token = environ.get(TOKEN_ENV) or environ.get("GATEKEEPER_TOKEN") or None

    def version(self) -> str:
        return f"opa-python-client {_client_version()}"

    def supports_builtin(self, name: str) -> bool:
        # The server is OPA or speaks its API: OPA's builtins (network ones are refused anyway).
        return name in builtin_names("opa")

    def _client(self, timeout: float) -> Any:
        _client_version()
        if not self.url:
            raise EngineError(
                f"the opa-server engine needs the server's URL: --opa-url or {URL_ENV}"
            )
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EngineError(f"{URL_ENV}: not an http(s) URL: {self.url!r}")
        if parts.path.strip("/") not in ("", "v1"):
            raise EngineError(f"{URL_ENV}: give the server's root URL, not a path: {self.url!r}")
        from opa_client.opa import OpaClient

        port = parts.port or (443 if parts.scheme == "https" else 80)
        return OpaClient(
            host=parts.hostname,
            port=port,
            ssl=parts.scheme == "https",
            token=self.token,
            retries=0,  # a retried evaluation could outlive the engine timeout
            timeout=timeout,
        )

    def _call(self, what: str, call: Any) -> Any:
        import requests

        try:
            return call()
        except requests.Timeout:
            raise EngineError(f"opa-server {self.url}: {what} timed out") from None
        except requests.HTTPError as error:
            response = error.response
            detail = ""
            if response is not None:
                try:
                    body = response.json()
                    detail = str(body.get("message") or body.get("error") or "")[:300]
                except ValueError:
                    detail = response.text[:200]
                raise EngineError(
                    f"opa-server {self.url}: {what}: HTTP {response.status_code}"
                    + (f": {detail}" if detail else "")
                ) from None
            raise EngineError(f"opa-server {self.url}: {what}: {error}") from None
        except ValueError:  # not JSON (requests' JSONDecodeError is one too)
            raise EngineError(f"opa-server {self.url}: {what}: the answer is not JSON") from None
        except requests.RequestException as error:
            raise EngineError(
                f"opa-server {self.url}: {what}: cannot reach the server ({type(error).__name__})"
            ) from None
        except Exception as error:  # opa_client's own exception family
            raise EngineError(
                f"opa-server {self.url}: {what}: {type(error).__name__}: {error}"[:400]
            ) from None

    def _server_modules(self, client: Any) -> dict[str, str]:
        def fetch() -> Any:
            response = client._session.get(f"{client.root_url}/policies", timeout=client.timeout)
            response.raise_for_status()
            return response.json()

        answer = self._call("listing policies", fetch)
        listed = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(listed, list):
            raise EngineError(f"opa-server {self.url}: listing policies: not OPA's answer")
        return {
            str(item.get("raw")): str(item.get("id"))
            for item in listed
            if isinstance(item, dict) and isinstance(item.get("raw"), str)
        }

    def _require_bundle(self, client: Any, bundle: PolicyBundle) -> None:
        held = self._server_modules(client)
        for module in bundle.modules:
            if module.is_test:
                continue
            if module.source not in held:
                raise EngineError(
                    f"opa-server {self.url} does not hold {module.path} (package "
                    f"{module.package}) as this run has it: the decision would come from "
                    "other policies; load the same bundle on the server",
                    path=module.path,
                )

    def check(self, bundle: PolicyBundle, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        client = self._client(timeout)
        try:
            self._require_bundle(client, bundle)
        finally:
            client.close_connection()

    def evaluate(
        self,
        bundle: PolicyBundle,
        input_json: str,
        queries: tuple[str, ...],
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        trace: bool = False,
    ) -> EvalResult:
        if trace:
            raise EngineError("the opa-server engine records no trace")
        paths = [query_path(q) for q in queries]
        client = self._client(timeout)
        try:
            self._require_bundle(client, bundle)
            input_value = json.loads(input_json)
            values: dict[str, Any] = {}
            for query, path in zip(queries, paths, strict=True):

                def post(path: list[str] = path) -> Any:
                    # opa-python-client turns dots into slashes: the path is given slashed
                    return client.query_rule(input_data=input_value, package_path="/".join(path))

                answer = self._call(f"evaluating {query}", post)
                if not isinstance(answer, dict):
                    raise EngineError(f"opa-server {self.url}: {query}: not OPA's answer")
                if "result" in answer:
                    values[query] = answer["result"]
        finally:
            client.close_connection()
        return EvalResult(values=values)

    def run_tests(
        self,
        bundle: PolicyBundle,
        *,
        coverage: bool = False,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> TestRunResult:
        raise EngineError("the opa-server engine cannot run policy tests: use opa or regorus")
