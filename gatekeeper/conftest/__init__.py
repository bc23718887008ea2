"""``gatekeeper check``: conftest's conventions over configuration files (JSON/YAML).

A layer of its own above the gate (DESIGN.md): it reuses the gate's bundle loading, engines and
guards, but counts the way conftest does — per document and namespace, conftest's exception
names, no waivers, no Decision — so its outputs match ``conftest test`` line for line.
"""
