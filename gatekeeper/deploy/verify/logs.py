"""Log verification: learn line templates from the baseline, flag what is new in the canary.

Drain3 mines templates ("GET /users/<NUM> took <NUM> ms") from the baseline's lines. Each
canary line is then matched against them (a perfect match on the masked line, full search as a
fallback, so a line is never called new just because the tree search missed it). Flagged:

* ``new_template`` — canary lines that match no baseline template (grouped by a second Drain
  run over those lines only). Any count is enough: one new exception is one too many.
* ``rate_increase`` — a baseline template whose share of the canary's lines rose
  significantly: Fisher's exact test at the confidence, at least ``min_count`` canary lines,
  and at least ``min_rate_ratio`` times the baseline's share.

A finding *fails* the canary when its template looks like an error (``error_pattern``: level
words, ``Traceback``, ``SomethingError:``/``Exception``) — or any finding with
``fail_on: any``. Other findings are reported as warnings: a release that logs a new INFO line
is not a reason to roll back, unless you say so.

Drain3 is configured in code: no ``drain3.ini`` lookup, no persistence, nothing on disk.
Input is bounded (``max_lines`` per side, lines cut at ``max_line_chars``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any, Literal

from drain3.masking import MaskingInstruction  # type: ignore[import-untyped]
from drain3.template_miner import TemplateMiner  # type: ignore[import-untyped]
from drain3.template_miner_config import TemplateMinerConfig  # type: ignore[import-untyped]
from pydantic import Field, field_validator

from gatekeeper.deploy.verify import stats
from gatekeeper.deploy.verify.config import DEFAULT_CONFIDENCE
from gatekeeper.deploy.verify.results import LogFinding, LogVerdict, Outcome
from gatekeeper.model.base import Frozen

DEFAULT_ERROR_PATTERN = (
    r"\b(?:ERROR|FATAL|CRITICAL|PANIC|SEVERE)\b|Traceback \(most recent call last\)"
    r"|\b[A-Z]\w*(?:Error|Exception)\b|\bexception\b|\bpanic:"
)

# Masks applied before mining, most specific first, so that ids, times and numbers do not
# split one template into thousands.
_MASKS = (
    (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?", "TIME"),
    (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "UUID"),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "IP"),
    (r"\b0x[0-9a-fA-F]+\b|\b[0-9a-f]{12,}\b", "HEX"),
    (r"(?<![A-Za-z])[-+]?\d+(?:\.\d+)?", "NUM"),
)


class LogConfig(Frozen):
    sim_th: float = Field(default=0.4, gt=0, le=1, description="Drain similarity threshold")
    depth: int = Field(default=4, ge=3, le=10, description="Drain prefix-tree depth")
    max_clusters: int = Field(default=2_000, ge=10, description="templates kept per side")
    min_baseline_lines: int = Field(default=50, ge=1, description="lines needed to learn from")
    min_canary_lines: int = Field(default=1, ge=1)
    min_count: int = Field(default=5, ge=1, description="canary lines for a rate increase")
    min_rate_ratio: float = Field(default=2.0, ge=1, description="canary/baseline share ratio")
    confidence: float = Field(default=DEFAULT_CONFIDENCE, ge=0.5, lt=1)
    fail_on: Literal["errors", "any"] = "errors"
    error_pattern: str = DEFAULT_ERROR_PATTERN
    max_lines: int = Field(default=200_000, ge=1)
    max_line_chars: int = Field(default=2_000, ge=20)
    max_examples: int = Field(default=3, ge=0, le=20)

    @field_validator("error_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"error_pattern is not a valid regular expression: {exc}") from None
        return value


def _miner(config: LogConfig) -> Any:
    settings = TemplateMinerConfig()  # defaults only; .load() would read drain3.ini
    settings.drain_sim_th = config.sim_th
    settings.drain_depth = config.depth
    settings.drain_max_clusters = config.max_clusters
    settings.parametrize_numeric_tokens = True
    settings.masking_instructions = [MaskingInstruction(p, name) for p, name in _MASKS]
    return TemplateMiner(persistence_handler=None, config=settings)


def _bounded(lines: Iterable[str], config: LogConfig) -> tuple[list[str], bool]:
    out: list[str] = []
    for raw in lines:
        if len(out) >= config.max_lines:
            return out, True
        line = raw.rstrip("\r\n")[: config.max_line_chars]
        if line.strip():
            out.append(line)
    return out, False


def analyze_logs(
    baseline_lines: Iterable[str],
    canary_lines: Iterable[str],
    config: LogConfig | None = None,
) -> LogVerdict:
    """Compare the canary's log lines with the baseline's for one analysis interval."""
    cfg = config or LogConfig()
    error_like = re.compile(cfg.error_pattern)
    baseline, base_cut = _bounded(baseline_lines, cfg)
    canary, can_cut = _bounded(canary_lines, cfg)
    notes = " (input cut at max_lines)" if base_cut or can_cut else ""

    def verdict(outcome: Outcome, reason: str, **extra: Any) -> LogVerdict:
        fields: dict[str, Any] = {
            "baseline_lines": len(baseline),
            "canary_lines": len(canary),
            "baseline_templates": 0,
            "findings": (),
            "confidence": cfg.confidence,
        }
        fields.update(extra)
        return LogVerdict(outcome=outcome, reason=reason + notes, **fields)

    if len(baseline) < cfg.min_baseline_lines:
        return verdict(
            Outcome.INCONCLUSIVE,
            f"too few baseline log lines to learn from: {len(baseline)}, "
            f"{cfg.min_baseline_lines} needed",
        )
    if len(canary) < cfg.min_canary_lines:
        return verdict(
            Outcome.INCONCLUSIVE,
            f"too few canary log lines: {len(canary)}, {cfg.min_canary_lines} needed",
        )

    learned = _miner(cfg)
    for line in baseline:
        learned.add_log_message(line)
    clusters = {c.cluster_id: c for c in learned.drain.clusters}
    baseline_counts = {cid: c.size for cid, c in clusters.items()}

    matched: Counter[int] = Counter()
    examples: dict[int, list[str]] = {}
    novel = _miner(cfg)
    novel_counts: Counter[int] = Counter()
    novel_examples: dict[int, list[str]] = {}
    for line in canary:
        cluster = learned.match(line, full_search_strategy="fallback")
        if cluster is not None:
            matched[cluster.cluster_id] += 1
            bucket = examples.setdefault(cluster.cluster_id, [])
        else:
            cid = novel.add_log_message(line)["cluster_id"]
            novel_counts[cid] += 1
            bucket = novel_examples.setdefault(cid, [])
        if len(bucket) < cfg.max_examples:
            bucket.append(line)

    findings: list[LogFinding] = []
    n_base, n_can = len(baseline), len(canary)

    def fails(is_error: bool) -> bool:
        return is_error or cfg.fail_on == "any"

    novel_clusters = {c.cluster_id: c for c in novel.drain.clusters}
    for cid, count in novel_counts.most_common():
        template = novel_clusters[cid].get_template()
        # The template masks the details; the examples show them. Either may look like an error.
        is_error = bool(error_like.search(template)) or any(
            error_like.search(line) for line in novel_examples.get(cid, [])
        )
        findings.append(
            LogFinding(
                template=template,
                kind="new_template",
                error_like=is_error,
                fails=fails(is_error),
                baseline_count=0,
                canary_count=count,
                baseline_rate=0.0,
                canary_rate=count / n_can,
                examples=tuple(novel_examples.get(cid, [])),
            )
        )
    alpha = 1 - cfg.confidence
    for cid, count in matched.most_common():
        base = baseline_counts.get(cid, 0)
        base_rate, can_rate = base / n_base, count / n_can
        if count < cfg.min_count or can_rate < cfg.min_rate_ratio * base_rate:
            continue
        p_value = stats.fisher_exact(count, n_can, base, n_base).p_value
        if p_value >= alpha:
            continue
        template = clusters[cid].get_template()
        is_error = bool(error_like.search(template))
        findings.append(
            LogFinding(
                template=template,
                kind="rate_increase",
                error_like=is_error,
                fails=fails(is_error),
                baseline_count=base,
                canary_count=count,
                baseline_rate=base_rate,
                canary_rate=can_rate,
                p_value=p_value,
                examples=tuple(examples.get(cid, [])),
            )
        )

    failing = [f for f in findings if f.fails]
    extra = {"baseline_templates": len(clusters), "findings": tuple(findings)}
    if failing:
        shown = "; ".join(f"{f.kind} {f.template!r} x{f.canary_count}" for f in failing[:3])
        more = f" and {len(failing) - 3} more" if len(failing) > 3 else ""
        return verdict(
            Outcome.FAIL,
            f"{len(failing)} log pattern(s) count against the canary: {shown}{more}",
            **extra,
        )
    warned = f"; {len(findings)} finding(s) reported as warnings" if findings else ""
    return verdict(
        Outcome.PASS,
        f"no new or rising error patterns in {n_can} canary lines against "
        f"{len(clusters)} baseline templates{warned}",
        **extra,
    )
