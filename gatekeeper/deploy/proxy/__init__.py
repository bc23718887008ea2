"""The local target's HTTP reverse proxy: weighted stable/canary split, per-request samples,
Prometheus metrics, connection draining. Runs embedded (:class:`ProxyServer`) or as a daemon
(``python -m gatekeeper.deploy.proxy``) driven through :class:`ProxyClient`."""

from gatekeeper.deploy.proxy.client import PoolRoute, ProxyClient, RoutesResult, SampleFeed
from gatekeeper.deploy.proxy.metrics import Sample, SamplePage, SampleSink
from gatekeeper.deploy.proxy.router import CANARY, STABLE
from gatekeeper.deploy.proxy.server import ProxyServer

__all__ = [
    "CANARY",
    "STABLE",
    "PoolRoute",
    "ProxyClient",
    "ProxyServer",
    "RoutesResult",
    "Sample",
    "SampleFeed",
    "SamplePage",
    "SampleSink",
]
