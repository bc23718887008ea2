"""The decision service (``gatekeeper serve``): one trusted place that judges, signs, records
and answers. HTTP API (``app.py``), tokens (``tokens.py``), the service key (``keys.py``), the
Merkle log over the ledger with its checkpoint file (``log.py``), metrics (``metrics.py``)."""
