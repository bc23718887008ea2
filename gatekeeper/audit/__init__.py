"""Audit: judging recorded decisions again, above the gate and the ledger.

``replay`` reproduces one recorded decision, ``impact`` judges recorded releases with a
candidate bundle, ``recorder`` appends a gate run to the ledger (with its input and bundle
snapshot, ``snapshot``). All judging goes through :func:`gatekeeper.gate.decide.decide`.
"""
