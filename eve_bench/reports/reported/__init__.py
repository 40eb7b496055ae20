"""Published TGVE and TGVE+ numbers (`results.yaml`) and how eve-bench's metrics map onto the
papers' columns.

The file holds every number exactly as printed (as text, so "74.0" keeps its digit), one row per
row of a paper's table, with its source, table and version. Where papers disagree both rows are
kept with a note; `merged` groups rows of one method that agree, citing every paper that prints
them, and leaves disagreeing ones apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from eve_bench.questions import PREFERENCE_COLUMNS

DATA = Path(__file__).with_name("results.yaml")
SCHEMA_VERSION = 1
BENCHMARKS = ("tgve", "tgve-plus")


@dataclass(frozen=True)
class PaperColumn:
    name: str  # as the papers print it
    metric: str  # the eve-bench metric that implements it
    decimals: int  # as the papers print it
    scale: float = 1.0  # eve-bench value x scale = the paper's units


# Every one is on the papers' scale already: pick_score is exp(logit_scale) x cosine (about 20),
# clip_frame a mean cosine in [-1, 1] (about 0.9), the ViCLIP metrics cosines (docs/metrics-*.md).
PAPER_METRICS = (
    PaperColumn("PickScore", "pick_score", 2),
    PaperColumn("CLIPFrame", "clip_frame", 3),
    PaperColumn("ViCLIP_dir", "viclip_dir", 3),
    PaperColumn("ViCLIP_out", "viclip_out", 3),
)


@dataclass(frozen=True)
class Source:
    key: str
    short: str  # how a table cites it
    cite: str
    version: str
    url: str


@dataclass(frozen=True)
class Preference:
    preferred: str  # the method raters preferred over the row's method this % of the time
    values: dict[str, str]  # question or "Avg" -> % as printed


@dataclass(frozen=True)
class ReportedRow:
    benchmark: str
    source: Source
    table: str
    method: str
    name_in_source: str
    metrics: dict[str, str]  # paper column -> value as printed
    preference: Preference | None
    note: str = ""
    status: str = "confirmed"  # or "secondary": known only from a summary of the paper

    @property
    def citation(self) -> str:
        secondary = " (secondary summary)" if self.status == "secondary" else ""
        return f"{self.source.short} {self.table}{secondary}"


@lru_cache(maxsize=None)
def load(path: Path = DATA) -> tuple[ReportedRow, ...]:
    doc = yaml.safe_load(Path(path).read_text())
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{path}: schema version {doc.get('schema_version')} is not {SCHEMA_VERSION}")
    sources = {k: Source(k, v["short"], v["cite"], v["version"], v.get("url", "")) for k, v in doc["sources"].items()}
    columns = {c.name for c in PAPER_METRICS}
    rows = []
    for i, r in enumerate(doc["rows"]):
        where = f"{path}: row {i} ({r.get('method')})"
        if r["benchmark"] not in BENCHMARKS or r["source"] not in sources:
            raise ValueError(f"{where}: unknown benchmark {r['benchmark']!r} or source {r['source']!r}")
        metrics = {k: str(v) for k, v in r.get("metrics", {}).items()}
        pref = r.get("preference")
        values = {k: str(v) for k, v in (pref or {}).items() if k != "preferred"}
        if set(metrics) - columns or set(values) - set(PREFERENCE_COLUMNS):
            raise ValueError(f"{where}: unknown column(s) {sorted(set(metrics) - columns | set(values) - set(PREFERENCE_COLUMNS))}")
        for text in [*metrics.values(), *values.values()]:
            float(text)  # a typo such as "0,93" fails here, not in a table
        rows.append(ReportedRow(
            benchmark=r["benchmark"], source=sources[r["source"]], table=str(r["table"]), method=str(r["method"]),
            name_in_source=str(r.get("name_in_source", r["method"])), metrics=metrics,
            preference=Preference(str(pref["preferred"]), values) if pref else None,
            note=r.get("note", ""), status=r.get("status", "confirmed"),
        ))
    return tuple(rows)


@dataclass
class QuotedRow:
    """One method's published numbers on one benchmark, as agreed by every paper cited."""

    method: str
    metrics: dict[str, str] = field(default_factory=dict)
    preference: Preference | None = None
    citations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def merged(benchmark: str) -> list[QuotedRow]:
    """The benchmark's rows with automatic metrics, rows of one method that agree on every column
    both print merged into one (a method's human preference comes from EVE's Table 1 only)."""
    out: list[QuotedRow] = []
    for row in load():
        if row.benchmark != benchmark or not row.metrics:
            continue
        same = next((q for q in out if q.method == row.method
                     and all(q.metrics[c] == v for c, v in row.metrics.items() if c in q.metrics)
                     and (q.preference is None or row.preference is None)), None)
        if same is None:
            same = QuotedRow(row.method)
            out.append(same)
        same.metrics = {**row.metrics, **same.metrics}
        same.preference = same.preference or row.preference
        same.citations.append(row.citation)
        if row.note and row.note not in same.notes:
            same.notes.append(row.note)
    return out


def sources() -> list[Source]:
    """Every source a row cites, in the file's order."""
    return list(dict.fromkeys(r.source for r in load()))


def other_preferences(benchmark: str) -> list[ReportedRow]:
    """Human preferences on the benchmark outside EVE's tables (Movie Gen against EVE)."""
    return [r for r in load() if r.benchmark == benchmark and r.preference and not r.metrics and r.source.key != "eve-v2"]


def ablations() -> list[ReportedRow]:
    """EVE's Table 2, in the paper's order."""
    return [r for r in load() if r.source.key == "eve-v2" and r.table == "Table 2"]
