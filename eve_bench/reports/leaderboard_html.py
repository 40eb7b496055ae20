"""The leaderboard as one self-contained HTML page, with a gallery of the runs' outputs.

`leaderboard.html` holds the same tables as leaderboard.md (overall and per task, means with their
95% bootstrap intervals, published rows marked as quoted) with sortable columns and each metric's
direction and definition on hover, and a gallery: pick a sample and watch its source, the ground
truth (synth) and every run's output side by side, in step. The videos are small copies kept in
`leaderboard_media/` beside the page, linked relatively, so the folder opens from disk and can be
committed.

Every string that came from a run (model, model args, run path, prompts, sample keys) is escaped
with html.escape where it is written into markup; the gallery's data travels as JSON inside a
<script type="application/json"> block with <, > and & escaped, and the page's script puts text into
the page only through textContent, so an injected <script> shows as text.
"""

from __future__ import annotations

import html
import json
import shutil
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

from eve_bench.atomic import atomic_folder
from eve_bench.reports.gallery import Prompts, copy_small, key_parts, ok_previews, prompts_of, suite_samples, write_reference_videos
from eve_bench.reports.rows import arrow, fmt_ci, interval, metric_names, partial_note, reported_table, row_label
from eve_bench.run.results import load_summary

MEDIA = "leaderboard_media"  # beside leaderboard.html; rebuilt whole on every write


@dataclass(frozen=True)
class GalleryEntry:
    key: str
    prompts: Prompts
    source: str | None  # URL relative to the page; None where the source cannot be rebuilt
    ground_truth: str | None
    outputs: tuple[str | None, ...]  # one per leaderboard row; None where that run has no output


def _url(path: Path, media: Path) -> str:
    """The page's link to a file written under `media` (which becomes MEDIA beside the page)."""
    return "/".join([MEDIA, *(quote(part) for part in path.relative_to(media).parts)])


@contextmanager
def gallery(rows: list[dict], out: Path, per_task: int, max_side: int | None) -> Iterator[list[GalleryEntry]]:
    """The gallery's entries, their videos written to a hidden folder that replaces `out/MEDIA` only
    once the block (writing the page) succeeds: an unreadable preview stops the leaderboard with the
    old one whole. A sample or run dropped since the last write does not linger."""
    if per_task <= 0 or not rows:
        yield []
        shutil.rmtree(out / MEDIA, ignore_errors=True)
        return
    with atomic_folder(out / MEDIA) as media:
        yield build_gallery(rows, media, per_task, max_side)


def build_gallery(rows: list[dict], media: Path, per_task: int, max_side: int | None) -> list[GalleryEntry]:
    """Copy the first `per_task` samples of each task (those some run scored) into `media`, small."""
    previews = [ok_previews(r["run"]) for r in rows]
    first = load_summary(rows[0]["run"])
    samples = suite_samples(first)
    keys, per = [], {}
    for found, r in zip(previews, rows):
        for key in found:
            task = r["task_of"].get(key, "")
            if key not in keys and per.get(task, 0) < per_task:
                keys.append(key)
                per[task] = per.get(task, 0) + 1
    entries = []
    for key in keys:
        rel = Path(*key_parts(key)).with_suffix(".mp4")
        sample = samples.get(key)
        source = truth = None
        if sample is not None:
            source, truth = write_reference_videos(sample, first.get("frame_policy") or {}, media / "source" / rel,
                                                   media / "truth" / rel, max_side)
        outputs = tuple(copy_small(found[key], media / f"run-{i}" / rel, max_side) if key in found else None
                        for i, found in enumerate(previews))
        task = next(r["task_of"][key] for r in rows if key in r["task_of"])
        entries.append(GalleryEntry(key, prompts_of(sample, task), *(None if p is None else _url(p, media) for p in (source, truth)),
                                    tuple(None if p is None else _url(p, media) for p in outputs)))
    return entries


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _json_for_script(obj) -> str:
    # Inside <script>, only "</" can end the block; escaping <, > and & keeps every string inert.
    return json.dumps(obj).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _definitions(rows: list[dict]) -> dict[str, str]:
    """metric -> its direction and definition, for hover text."""
    from eve_bench.metrics import METRICS

    out = {}
    for name in metric_names(rows):
        direction = next((r["directions"].get(name) for r in rows if r["directions"].get(name)), "-")
        better = {"higher": "higher is better", "lower": "lower is better"}.get(direction, "diagnostic: no better direction")
        try:
            definition = METRICS.get(name).definition
        except Exception:  # a plug-in metric not installed here still has its column
            definition = "definition unavailable on this machine"
        out[name] = f"{name}: {better}. {definition}"
    return out


def _th(label: str, hover: str = "", numeric: bool = True) -> str:
    kind = "num" if numeric else "text"
    return f'<th data-sort="{kind}" title="{_e(hover)}"><button type="button">{_e(label)}</button></th>'


def _mean_td(mean, ci, note: str = "") -> str:
    value = "" if mean is None else repr(float(mean))
    return f'<td data-v="{value}">{_e(fmt_ci(mean, ci) + note)}</td>'


def _overall_table(rows: list[dict], defs: dict[str, str]) -> str:
    names = metric_names(rows)
    differs = rows[0]["differs"]
    head = [_th("model", "the model spec the run was made with", False), _th("args", "model arguments", False),
            _th("n", "samples selected"), _th("failed"), _th("missing")]
    head += [_th("settings", "rows with different letters ran under different settings", False)] if differs else []
    head += [_th(n + arrow(rows, n), defs[n]) for n in names]
    body = []
    for r in rows:
        label = f"{r['model']} (reference)" if r["reference"] else r["model"]
        cells = [f"<td>{_e(label)}</td>", f"<td>{_e(r['model_args'])}</td>"]
        cells += [f'<td data-v="{_e(r[k])}">{_e(r[k])}</td>' for k in ("n_samples", "n_failed", "n_missing")]
        cells += [f"<td>{_e(r['group'])}</td>"] if differs else []
        cells += [_mean_td(r["overall"].get(n), interval(r, n), partial_note(r, n)) for n in names]
        body.append(f'<tr title="{_e(r["run"])}">' + "".join(cells) + "</tr>")
    return _table("overall", head, body)


def _task_tables(rows: list[dict], defs: dict[str, str]) -> list[str]:
    tasks = list(dict.fromkeys(t for r in rows for t in r["per_task"]))
    out = []
    for name in metric_names(rows):
        head = [_th("model", numeric=False)] + [_th(t, defs[name]) for t in tasks]
        body = ["<tr>" + f"<td>{_e(row_label(r, rows))}</td>"
                + "".join(_mean_td(r["per_task"].get(t, {}).get(name), interval(r, name, t)) for t in tasks) + "</tr>"
                for r in rows]
        out.append(f'<h3 title="{_e(defs[name])}">{_e(name + arrow(rows, name))} per task</h3>' + _table(f"task-{name}", head, body))
    return out


def _reported_section(rows: list[dict], benchmark: str) -> str:
    header, body = reported_table(rows, benchmark)
    n_quoted = len(body) - len(rows)  # reported_table lists the quoted rows first
    head = [_th(h, numeric=i >= 2) for i, h in enumerate(header)]
    trs = []
    for i, row in enumerate(body):
        quoted = i < n_quoted
        cells = [f"<td>{_e(row[0])}" + (' <span class="badge">quoted</span>' if quoted else "") + "</td>"]
        cells += [f"<td>{_e(c)}</td>" for c in row[1:]]
        trs.append(f'<tr class="{"quoted" if quoted else "measured"}">' + "".join(cells) + "</tr>")
    return (f"<h2>Beside the published numbers ({_e(benchmark)})</h2><p>Rows marked <span class=\"badge\">quoted</span> "
            "are published numbers copied exactly as printed (eve_bench/reports/reported/results.yaml), with their citation; "
            "the others are measured by the runs above. Text / Struct. / Quality / Avg. are EVE's human ratings.</p>"
            + _table("reported", head, trs))


def _table(name: str, head: list[str], body: list[str]) -> str:
    return (f'<table class="sortable" id="{_e(name)}"><thead><tr>{"".join(head)}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _gallery(rows: list[dict], entries: list[GalleryEntry]) -> str:
    if not entries:
        return ""
    data = {"runs": [r["model"] + (f" ({r['model_args']})" if r["model_args"] else "") for r in rows],
            "samples": [asdict(e) for e in entries]}
    return ('<h2 id="gallery">Gallery</h2><p>Pick a sample: its source, the ground truth (where the suite has one) and '
            'every run\'s output play side by side, in step.</p>'
            '<p><label>Sample <select id="sample"></select></label> <button type="button" id="play">Pause</button></p>'
            '<dl id="prompts"></dl><div id="videos"></div>'
            f'<script type="application/json" id="gallery-data">{_json_for_script(data)}</script>')


def render_html(rows: list[dict], entries: list[GalleryEntry], title: str | None = None, reported: str | None = None) -> str:
    suite = rows[0]["suite"] if rows else "?"
    title = title or f"eve-bench leaderboard: {suite}"
    defs = _definitions(rows)
    differs = rows[0]["differs"] if rows else []
    note = (f'<p class="warn"><b>Not comparable as they stand</b>: these runs differ in {_e(", ".join(differs))}; '
            "rows with different letters in the settings column ran under different settings.</p>") if differs else ""
    parts = [f"<h1>{_e(title)}</h1>",
             "<p>Overall means over scored samples (↑ higher is better, ↓ lower is better), each with its 95% bootstrap "
             "interval over samples [low, high]. Click a column to sort; hover a metric for its definition. "
             "<code>identity</code> returns its input: the lower bound every method must beat.</p>", note,
             _overall_table(rows, defs) if rows else "", _gallery(rows, entries), "<h2>Per task</h2>", *_task_tables(rows, defs)]
    if reported:
        parts.append(_reported_section(rows, reported))
    parts.append("<p class=\"runs\">Runs: " + ", ".join(f"<code>{_e(r['run'])}</code>" for r in rows) + "</p>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>'
            f'<body>{"".join(parts)}<script>{_JS}</script></body></html>\n')


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:.5em 0 1.2em;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;white-space:nowrap}
th:first-child,#overall th:nth-child(2){text-align:left}
td:first-child,#overall td:nth-child(2),#reported td:nth-child(2){text-align:left;white-space:normal;max-width:28em;overflow-wrap:anywhere}
th button{all:unset;cursor:pointer;font-weight:600}
th[aria-sort=ascending] button::after{content:" ▲"} th[aria-sort=descending] button::after{content:" ▼"}
thead{background:#f0f3f7} tr.quoted{background:#fbf8ec} .badge{background:#c9a227;color:#fff;border-radius:3px;padding:0 4px;font-size:11px}
.warn{background:#fdecea;padding:.4em .6em} #videos{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0;text-align:center} figcaption{font-size:12px;max-width:200px;overflow-wrap:anywhere}
video{width:200px;image-rendering:pixelated;background:#000} dl{display:grid;grid-template-columns:max-content auto;gap:2px 10px}
dt{font-weight:600} dd{margin:0} .runs{color:#666;font-size:12px}
"""

# Sorting, and the gallery. Text from the data only ever reaches the page through textContent.
_JS = """
document.querySelectorAll('table.sortable').forEach(table => {
  table.querySelectorAll('th').forEach((th, col) => th.addEventListener('click', () => {
    const asc = th.getAttribute('aria-sort') !== 'ascending';
    table.querySelectorAll('th').forEach(h => h.removeAttribute('aria-sort'));
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    const numeric = th.dataset.sort === 'num';
    const value = tr => { const td = tr.children[col]; const v = td.dataset.v ?? td.textContent;
      if (!numeric) return v; const x = parseFloat(v); return isNaN(x) ? null : x; };
    const body = table.tBodies[0];
    [...body.rows].sort((a, b) => { const x = value(a), y = value(b);
      if (x === null || y === null) return (x === null) - (y === null);  // empty cells last
      return (asc ? 1 : -1) * (numeric ? x - y : String(x).localeCompare(String(y))); })
      .forEach(tr => body.appendChild(tr));
  }));
});
const galleryData = document.getElementById('gallery-data');
if (galleryData) {
  const data = JSON.parse(galleryData.textContent);
  const select = document.getElementById('sample'), box = document.getElementById('videos');
  const prompts = document.getElementById('prompts'), play = document.getElementById('play');
  data.samples.forEach((s, i) => { const o = document.createElement('option'); o.value = i;
    o.textContent = s.key; select.appendChild(o); });
  let videos = [];
  const panel = (label, src) => { const f = document.createElement('figure');
    const v = document.createElement('video'); v.muted = true; v.loop = true; v.playsInline = true; v.preload = 'auto';
    const c = document.createElement('figcaption'); c.textContent = label;
    if (src) { v.src = src; f.appendChild(v); videos.push(v); }
    else { const p = document.createElement('div'); p.textContent = '(no video)'; f.appendChild(p); }
    f.appendChild(c); box.appendChild(f); };
  const show = i => {
    const s = data.samples[i]; box.replaceChildren(); prompts.replaceChildren(); videos = [];
    [['task', s.prompts.task], ['instruction', s.prompts.instruction], ['input caption', s.prompts.source_caption],
     ['output caption', s.prompts.target_caption]].forEach(([k, v]) => { if (v === null) return;
      const dt = document.createElement('dt'); dt.textContent = k; const dd = document.createElement('dd'); dd.textContent = v;
      prompts.append(dt, dd); });
    panel('source', s.source); panel('ground truth', s.ground_truth);
    data.runs.forEach((name, j) => panel(name, s.outputs[j]));
    const lead = videos[0];
    if (lead) lead.addEventListener('timeupdate', () => videos.slice(1).forEach(v => {
      if (Math.abs(v.currentTime - lead.currentTime) > 0.1) v.currentTime = lead.currentTime; }));
    videos.forEach(v => { v.currentTime = 0; v.play().catch(() => {}); });
    play.textContent = 'Pause';
  };
  play.addEventListener('click', () => { const paused = !videos[0] || videos[0].paused;
    videos.forEach(v => paused ? v.play().catch(() => {}) : v.pause()); play.textContent = paused ? 'Pause' : 'Play'; });
  select.addEventListener('change', () => show(+select.value));
  if (data.samples.length) show(0);
}
"""
