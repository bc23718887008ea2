"""What every benchmark script shares: the machine it ran on and its section of BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def write_section(
    title: str, begin: str, end: str, table: str, *, path: Path = BENCHMARKS_MD
) -> None:
    """Replace the text between ``begin`` and ``end`` markers (``table`` includes them), or
    append it under ``## title`` the first time. Figures are only ever written by scripts."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if begin in text:
        before, _, rest = text.partition(begin)
        _, _, after = rest.partition(end)
        text = before + table + after
    else:
        text = text.rstrip("\n") + f"\n\n## {title}\n\n" + table + "\n"
    path.write_text(text)
