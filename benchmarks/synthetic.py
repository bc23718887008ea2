"""Synthetic releases for benchmarks: a CycloneDX SBOM, a Grype report and a semgrep report.

Deterministic (seeded) so figures are comparable between runs. Sizes follow the gate issue:
S 500 components, M 5,000, L 20,000 components with 4,000 vulnerabilities and 2,000 findings,
XL 100,000 (issue 12); T (10 components) measures the fixed cost of a gate run.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

LICENSES = [
    "MIT",
    "Apache-2.0",
    "BSD-3-Clause",
    "ISC",
    "MPL-2.0",
    "GPL-3.0-only",
    "MIT OR GPL-3.0-only",
]
SEVERITIES = ["Critical", "High", "Medium", "Low", "Negligible"]


@dataclass(frozen=True)
class Size:
    name: str
    components: int
    vulnerabilities: int
    findings: int


SIZES = {
    "T": Size("T", 10, 2, 1),
    "S": Size("S", 500, 100, 50),
    "M": Size("M", 5_000, 1_000, 500),
    "L": Size("L", 20_000, 4_000, 2_000),
    "XL": Size("XL", 100_000, 20_000, 10_000),
}


def generate(size: Size, out: Path, seed: int = 7) -> list[Path]:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    components = []
    for i in range(size.components):
        name = f"pkg-{i:06d}"
        version = f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}"
        license_text = rng.choice(LICENSES)
        license_entry = (
            {"expression": license_text}
            if " " in license_text
            else {"license": {"id": license_text}}
        )
        components.append(
            {
                "type": "library",
                "bom-ref": f"ref-{i}",
                "name": name,
                "version": version,
                "purl": f"pkg:npm/{name}@{version}" if i % 50 else None,
                "licenses": [license_entry],
                "hashes": [{"alg": "SHA-256", "content": f"{i:064x}"}],
            }
        )
    for component in components:
        if component["purl"] is None:
            del component["purl"]
    sbom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "timestamp": "2026-11-01T00:00:00Z",
            "component": {
                "type": "application",
                "bom-ref": "root",
                "name": "bench-app",
                "version": "1.0.0",
            },
        },
        "components": components,
        "dependencies": [
            {"ref": "root", "dependsOn": [c["bom-ref"] for c in components[:100]]},
        ],
    }
    matches = []
    for j in range(size.vulnerabilities):
        component = components[rng.randrange(len(components))]
        fixed = rng.random() < 0.6
        matches.append(
            {
                "vulnerability": {
                    "id": f"CVE-2026-{j:05d}",
                    "severity": rng.choice(SEVERITIES),
                    "cvss": [
                        {"version": "3.1", "metrics": {"baseScore": round(rng.uniform(1, 10), 1)}}
                    ],
                    "fix": {
                        "versions": ["99.0.0"] if fixed else [],
                        "state": "fixed" if fixed else "not-fixed",
                    },
                },
                "relatedVulnerabilities": [{"id": f"GHSA-bench-{j:05d}"}],
                "artifact": {
                    "name": component["name"],
                    "version": component["version"],
                    "type": "npm",
                    "purl": f"pkg:npm/{component['name']}@{component['version']}",
                },
            }
        )
    grype = {"matches": matches, "descriptor": {"name": "grype", "version": "0.79.0"}}
    results = []
    for k in range(size.findings):
        results.append(
            {
                "check_id": f"bench.rule-{k % 40}",
                "path": f"src/module_{k % 300}.py",
                "start": {"line": 1 + k % 500, "col": 1},
                "end": {"line": 1 + k % 500, "col": 20},
                "extra": {
                    "message": "synthetic finding",
                    "severity": rng.choice(["ERROR", "WARNING", "INFO"]),
                    "fingerprint": f"{k:032x}",
                    "is_ignored": k % 10 == 0,
                    "metadata": {},
                },
            }
        )
    semgrep = {"version": "1.85.0", "results": results, "errors": []}
    paths = []
    for name, document in (
        ("sbom.cdx.json", sbom),
        ("grype.json", grype),
        ("semgrep.json", semgrep),
    ):
        path = out / name
        path.write_text(json.dumps(document))
        paths.append(path)
    return paths
