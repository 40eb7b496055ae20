"""The evaluation loop: suite -> samples -> model.edit -> outputs -> metrics -> results.

`run` produces outputs with a model; `evaluate_submission` reads them from a folder in the TGVE
submission layout. Both score what is on disk (the JPEG frames), so a run and an `eval` of its
submission give the same numbers, and a resumed run scores exactly what an uninterrupted one does.

Resuming: each finished sample leaves a record (written last, atomically) holding a cache key of
(model, model args, model version, sample content, seed, frame policy) and the digest of the frames
it scored. A re-run skips samples whose record matches and whose frames are exactly those, without
loading the model. The run folder's lock and configuration rules are in run_folder.py.

What counts against a model: its own exceptions and invalid outputs. An unreadable source is
missing data; a failed write is the environment (RunError, the run stops); a model that hangs past
--timeout or raises SystemExit / KeyboardInterrupt stops the run with its summary written.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import random
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from eve_bench.metrics import Metric, MetricInput, MetricOptions, MissingWeightsError, build_metrics
from eve_bench.models import EditRequest, load_model
from eve_bench.models.guard import ModelStopped, call_edit
from eve_bench.results import SCHEMA_VERSION, SampleRecord, aggregate, environment, write_results
from eve_bench.run_folder import RunError, RunFolder, writing
from eve_bench.sample import FramePolicy, Sample
from eve_bench.suites import Suite, SuiteError, load_suite
from eve_bench.suites.base import missing_sources_message
from eve_bench.video import Video, VideoReadError, frames_digest, frames_problem, read_video, write_frames_dir, write_mp4

CACHE_FORMAT = 1


@dataclass
class SuiteSelection:
    suite: str = "synth"
    data: str | None = None
    suite_args: dict = field(default_factory=dict)
    tasks: list[str] | None = None
    limit: int | None = None
    skip_missing: bool = False
    frame_policy: FramePolicy = field(default_factory=FramePolicy)


@dataclass
class RunConfig:
    model: str
    out: Path
    selection: SuiteSelection = field(default_factory=SuiteSelection)
    model_args: dict = field(default_factory=dict)
    seed: int = 0
    device: str = "cpu"
    metrics: list[str] | None = None  # None: the suite's defaults
    metric_options: MetricOptions = field(default_factory=MetricOptions)
    fail_fast: bool = False
    previews: bool = True
    progress: bool = True
    timeout: float | None = None  # seconds per model call; past it the run stops (models/guard.py)
    overwrite: bool = False  # replace a run folder's results made with another configuration

    def identity(self, suite: Suite) -> dict:
        """What makes a run folder's outputs this configuration's (run_folder.py): a folder holds one."""
        return {"model": self.model, "model_args": self.model_args, "seed": self.seed, "suite": suite.name,
                "frame_policy": self.selection.frame_policy.to_dict()}


def prepare_suite(sel: SuiteSelection) -> tuple[Suite, int]:
    """The selected samples and how many were dropped for missing or unreadable sources."""
    suite = load_suite(sel.suite, sel.data, **sel.suite_args).select_tasks(sel.tasks)
    problems = suite.find_unreadable()
    n_missing = 0
    if problems:
        n_missing = sum(1 for s in suite.samples if s.source_path in problems)
        if not sel.skip_missing:
            raise SuiteError(missing_sources_message(problems, n_missing))
        suite = suite.without_sources(problems)
    return suite.limit(sel.limit), n_missing


def sample_seed(seed: int, sample: Sample) -> int:
    return int(hashlib.sha256(f"{seed}/{sample.key}".encode()).hexdigest()[:8], 16)


@functools.lru_cache(maxsize=None)
def model_version(spec: str) -> str:
    """Version of the installed distribution that provides the model's top-level package.

    Cached: scanning the installed distributions takes a fraction of a second, once per sample
    otherwise."""
    import importlib.metadata as md

    import eve_bench

    top = spec.split(":")[0].split(".")[0]
    dists = md.packages_distributions().get(top)
    if dists:
        try:
            return f"{dists[0]}=={md.version(dists[0])}"
        except md.PackageNotFoundError:
            pass
    return f"eve-bench=={eve_bench.__version__}"


def files_stamp(path: str) -> str:
    """Hash of every file's relative path, size and mtime under `path` (a file or a folder).

    Model args that name weights on disk enter the cache key through this, so weights retrained in
    place are a new experiment even though the argument string did not change.
    """
    root = Path(path)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(root) if f != root else f.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def cache_key(cfg: RunConfig, suite: Suite, sample: Sample, seed: int, stamps: dict) -> str:
    blob = json.dumps(
        {
            "format": CACHE_FORMAT,
            "model": cfg.model,
            "model_args": cfg.model_args,
            "model_files": stamps,
            "model_version": model_version(cfg.model),
            "suite": [suite.name, suite.version],
            "sample": [sample.key, sample.fingerprint],
            "seed": seed,
            "frames": cfg.selection.frame_policy.to_dict(),
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


class Scorer:
    """Loads a sample's reference videos under the frame policy and applies every metric."""

    def __init__(self, metrics: list[Metric], policy: FramePolicy) -> None:
        self.metrics = metrics
        self.policy = policy
        self._source: tuple[str, Video] | None = None

    def source(self, sample: Sample) -> Video:
        # Suites list a video's tasks together: keep the last decoded source.
        ident = f"{sample.group}/{sample.video_id}/{sample.source_path}"
        if self._source is None or self._source[0] != ident:
            self._source = (ident, self.policy.apply(sample.load_source()))
        return self._source[1]

    def pending(self, record: SampleRecord) -> list[Metric]:
        """Metrics with no value in the record under their current configuration."""
        return [m for m in self.metrics if record.metric_ids.get(m.name) != m.cache_id]

    def score(self, sample: Sample, edited: Video, record: SampleRecord) -> None:
        todo = self.pending(record)
        if not todo:
            return
        t0 = time.perf_counter()
        item = MetricInput(sample=sample, edited=edited, source=self.source(sample))
        if sample.load_ground_truth is not None:
            item.ground_truth = self.policy.apply(sample.load_ground_truth())
        if sample.load_mask is not None:
            item.mask = self.policy.apply_mask(sample.load_mask())
        for metric in todo:
            absent = [r for r in metric.requires if not item.has(r)]
            if absent:
                value = None  # undefined here (e.g. ground truth on TGVE); not an error
            else:
                try:
                    value = float(metric.compute([item])[0])
                except Exception as e:  # one metric failing must not lose the others
                    record.metric_errors[metric.name] = f"{type(e).__name__}: {e}"
                    continue
            record.metrics[metric.name] = value
            record.metric_ids[metric.name] = metric.cache_id
            record.metric_errors.pop(metric.name, None)
        record.timings["score_s"] = round(time.perf_counter() - t0, 4)


def output_problem(output, source: Video) -> str | None:
    frames = output.frames if isinstance(output, Video) else getattr(output, "frames", output)
    problem = frames_problem(frames, shape=source.frames.shape)
    return f"model returned an invalid video: {problem}" if problem else None


def run(cfg: RunConfig) -> dict:
    """Evaluate a model on a suite; returns the summary (also written to cfg.out/summary.json)."""
    started = time.time()
    folder = RunFolder(cfg.out)
    suite, n_missing = prepare_suite(cfg.selection)
    with folder.locked():
        folder.claim(cfg.identity(suite), cfg.overwrite)
        folder.remove_leftovers()
        metrics, skipped = _prepared_metrics(cfg.metrics, suite, cfg.metric_options)
        scorer = Scorer(metrics, cfg.selection.frame_policy)
        model = None
        n_calls = 0
        records: list[SampleRecord] = []
        stopped = None
        stamps = {k: files_stamp(v) for k, v in cfg.model_args.items() if isinstance(v, str) and v and Path(v).exists()}
        bar = _progress(len(suite.samples), f"{cfg.model} on {suite.name}", cfg.progress)
        n_missing_before = n_missing
        # Samples that failed last time (a timeout among them) go last, so that one which hangs
        # every time cannot keep the rest of the suite from ever running.
        todo = sorted(suite.samples, key=lambda smp: _failed_before(folder.record(smp)))
        try:
            for sample in todo:
                if stopped:
                    break
                bar.update(1)
                seed = sample_seed(cfg.seed, sample)
                key = cache_key(cfg, suite, sample, seed, stamps)
                record = SampleRecord.load(folder.record(sample))
                if record and record.status == "ok" and record.cache_key == key and record.frames_sha256 == frames_digest(folder.frames(sample)):
                    record.cached = True
                else:
                    t0 = time.perf_counter()
                    source = _source_or_missing(scorer, sample, cfg.selection.skip_missing)
                    if source is None:
                        n_missing += 1
                        continue
                    record = _new_record(sample, key, seed)
                    record.timings["load_s"] = round(time.perf_counter() - t0, 4)
                    if model is None:
                        model = load_model(cfg.model, cfg.model_args, device=cfg.device)
                    n_calls += 1
                    stopped = _generate(model, sample, source, folder, record, cfg)
                    if record.status == "failed":
                        folder.discard(sample)
                if record.status == "ok" and scorer.pending(record):
                    try:
                        scorer.score(sample, read_video(folder.frames(sample), fps=scorer.source(sample).fps), record)
                    except Exception as e:
                        if cfg.fail_fast:
                            raise
                        record.status, record.error = "failed", f"scoring: {type(e).__name__}: {e}"
                with writing(folder.record(sample)):
                    record.save(folder.record(sample))
                records.append(record)
                bar.set_postfix(failed=sum(r.status == "failed" for r in records), cached=sum(r.cached for r in records))
        except KeyboardInterrupt:  # Ctrl-C outside the model's call: the finished samples still get a summary
            stopped = "interrupted (KeyboardInterrupt); the run stopped"
        bar.close()
        position = {smp.key: i for i, smp in enumerate(suite.samples)}
        records.sort(key=lambda r: position[r.key])
        n_not_run = len(suite.samples) - len(records) - (n_missing - n_missing_before)
        summary = _summary(cfg, suite, records, metrics, n_missing, started)
        summary.update(n_model_calls=n_calls, skipped_metrics=skipped, stopped=stopped, n_not_run=n_not_run)
        summary["n_samples"] += n_not_run
        with writing(folder.root / "summary.json"):
            write_results(folder.root, records, summary)
    return summary


def _failed_before(record_path: Path) -> bool:
    record = SampleRecord.load(record_path)
    return record is not None and record.status == "failed"


def _generate(model, sample: Sample, source: Video, folder: RunFolder, record: SampleRecord, cfg: RunConfig) -> str | None:
    """Call the model and write its output; the model's errors fail the record. Returns why the
    run must stop (a timeout, a SystemExit or KeyboardInterrupt in the model), or None."""
    request = EditRequest(
        # The model gets its own copy: an in-place edit must not change the reference it is scored against.
        video=Video(source.frames.copy(), fps=source.fps, meta=dict(source.meta)),
        instruction=sample.instruction,
        source_caption=sample.source_caption,
        target_caption=sample.target_caption,
        task=sample.task,
        seed=record.seed,
        video_id=sample.video_id,
        group=sample.group,
    )
    _seed_everything(record.seed)
    t1 = time.perf_counter()
    try:
        output = call_edit(model, request, cfg.timeout)
        problem = output_problem(output, source)
        if problem:
            raise ValueError(problem)
    except ModelStopped as e:
        record.status, record.error = "failed", str(e)
        return str(e)
    except Exception as e:
        if cfg.fail_fast:
            raise
        record.status = "failed"
        record.error = f"{type(e).__name__}: {e}"
        record.traceback = traceback.format_exc(limit=-3)[-2000:]
        return None
    t2 = time.perf_counter()
    if not isinstance(output, Video):
        output = Video(output.frames if hasattr(output, "frames") else output, fps=source.fps)
    frames_dir = folder.frames(sample)
    with writing(frames_dir):
        write_frames_dir(output, frames_dir)
    record.output = str(frames_dir.relative_to(folder.root))
    record.frames_sha256 = frames_digest(frames_dir)
    if cfg.previews:
        preview = folder.preview(sample)
        with writing(preview):
            write_mp4(output, preview)
        record.preview = str(preview.relative_to(folder.root))
    record.timings.update(edit_s=round(t2 - t1, 4), write_s=round(time.perf_counter() - t2, 4))
    return None


def evaluate_submission(
    submission: Path,
    out: Path,
    selection: SuiteSelection,
    metrics: list[str] | None = None,
    metric_options: MetricOptions | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict:
    """Score a folder in the official layout (<group>/<video>/<task>/00000.jpg ...) with no model."""
    started = time.time()
    submission, folder = Path(submission), RunFolder(out)
    if not submission.is_dir():
        raise RunError(f"--submission {submission}: no such folder")
    suite, n_missing = prepare_suite(selection)
    cfg = RunConfig(model=f"submission:{submission}", out=folder.root, selection=selection,
                    metric_options=metric_options or MetricOptions())
    with folder.locked():
        # The submission by its absolute path: `eval` of the same folder named another way is the same.
        folder.claim(dict(cfg.identity(suite), model=f"submission:{submission.resolve()}"), overwrite)
        folder.remove_leftovers()
        built, skipped = _prepared_metrics(metrics, suite, cfg.metric_options)
        scorer = Scorer(built, selection.frame_policy)
        records = []
        bar = _progress(len(suite.samples), f"eval {submission.name} on {suite.name}", progress)
        for sample in suite.samples:
            bar.update(1)
            source = _source_or_missing(scorer, sample, selection.skip_missing)
            if source is None:
                n_missing += 1
                continue
            record = _new_record(sample, "", None)
            frames_dir = submission / sample.group / sample.video_id / sample.edit_id
            record.output = str(frames_dir)
            try:
                edited = read_video(frames_dir, fps=source.fps)
                problem = output_problem(edited, source)
                if problem:
                    raise ValueError(problem.replace("model returned", "submission has"))
                scorer.score(sample, edited, record)
            except Exception as e:
                record.status, record.error = "failed", f"{type(e).__name__}: {e}"
            with writing(folder.record(sample)):
                record.save(folder.record(sample))
            records.append(record)
        bar.close()
        summary = _summary(cfg, suite, records, built, n_missing, started)
        summary.update(n_model_calls=0, skipped_metrics=skipped, stopped=None, n_not_run=0,
                       unmatched_folders=_unmatched_folders(submission, selection))
        with writing(folder.root / "summary.json"):
            write_results(folder.root, records, summary)
    return summary


def _source_or_missing(scorer: Scorer, sample: Sample, skip_missing: bool) -> Video | None:
    """The sample's source, or None when it cannot be decoded and --skip-missing counts it missing.
    A source that opened when the suite was checked but does not decode is bad data, never the
    model's failure: without --skip-missing the run stops (SuiteError) naming the file."""
    try:
        return scorer.source(sample)
    except VideoReadError as e:
        if not skip_missing:
            raise SuiteError(missing_sources_message({sample.source_path: str(e)}, 1)) from e
        return None


def _unmatched_folders(submission: Path, selection: SuiteSelection, shown: int = 100) -> list[str]:
    """Submission folders <group>/<video>/<edit_id> that match no sample of the whole suite (a typo
    in a group or task name, another suite's outputs): not scored, so the user is warned."""
    known = {s.key for s in load_suite(selection.suite, selection.data, **selection.suite_args).samples}
    extra = sorted(str(p.relative_to(submission)) for p in submission.glob("*/*/*") if p.is_dir() and str(p.relative_to(submission)) not in known)
    if extra:
        listed = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        print(f"eve-bench: warning: {len(extra)} folder(s) in {submission} match no sample of suite {selection.suite} "
              f"and were not scored: {listed}", file=sys.stderr)
    return extra[:shown]


def _new_record(sample: Sample, key: str, seed: int | None) -> SampleRecord:
    return SampleRecord(
        key=sample.key, video_id=sample.video_id, group=sample.group, task=sample.task,
        edit_id=sample.edit_id, status="ok", cache_key=key, seed=seed,
    )


def prepare_metrics(names: list[str], suite: Suite, options: MetricOptions, strict: bool) -> tuple[list[Metric], dict]:
    """Build and prepare metrics (weights load here, before any model runs), with the suite's
    metric defaults filling options the user left unset. strict: missing weights raise at once;
    otherwise such metrics are skipped and returned as {name: reason}."""
    defaults = {k: v for k, v in suite.metric_defaults.items() if getattr(options, k) is None}
    options = dataclasses.replace(options, **defaults)
    metrics, skipped = [], {}
    for metric in build_metrics(names, options):
        try:
            metric.prepare()
        except MissingWeightsError as e:
            if strict:
                raise
            skipped[metric.name] = str(e)
            continue
        metrics.append(metric)
    return metrics, skipped


def _prepared_metrics(requested: list[str] | None, suite: Suite, options: MetricOptions) -> tuple[list[Metric], dict]:
    """Metrics named explicitly must all load. A suite's defaults may include metrics whose weights
    a machine lacks (real CLIP on TGVE); those are skipped with a warning and listed under
    `skipped_metrics` in the summary, so the run stays useful and says plainly what it did not
    compute."""
    metrics, skipped = prepare_metrics(requested or list(suite.default_metrics), suite, options, strict=bool(requested))
    for name, reason in skipped.items():
        print(f"eve-bench: warning: skipping default metric {name}: {reason}", file=sys.stderr)
    return metrics, skipped


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="sample", disable=not enabled, file=sys.stderr, dynamic_ncols=True)


def _summary(cfg: RunConfig, suite: Suite, records: list[SampleRecord], metrics: list[Metric], n_missing: int, started: float) -> dict:
    names = [m.name for m in metrics]
    agg = aggregate(records, names, suite.tasks)
    failures = [{"key": r.key, "error": r.error} for r in records if r.status == "failed"]
    metric_failures = [{"key": r.key, "errors": r.metric_errors} for r in records if r.metric_errors]
    sel = cfg.selection
    return {
        "schema_version": SCHEMA_VERSION,
        "model": cfg.model,
        "model_args": cfg.model_args,
        "suite": suite.name,
        "suite_version": suite.version,
        "suite_info": suite.info,
        "data": sel.data,
        "tasks": list(suite.tasks),
        "limit": sel.limit,
        "seed": cfg.seed,
        "frame_policy": sel.frame_policy.to_dict(),
        "metrics": {"overall": agg["overall"], "per_task": agg["per_task"]},
        "metric_counts": agg["counts"],
        "metric_info": {m.name: {"direction": m.direction(), "id": m.cache_id} for m in metrics},
        "n_samples": len(records),
        "n_ok": sum(r.status == "ok" for r in records),
        "n_failed": len(failures),
        "n_cached": sum(r.cached for r in records),
        "n_missing": n_missing,
        "failures": failures,
        "metric_failures": metric_failures,
        **environment(cfg.device),
        "started_at": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": round(time.time() - started, 3),
    }
