"""The evaluation loop: suite -> samples -> model.edit -> outputs -> metrics -> results.

`run` produces outputs with a model; `evaluate_submission` reads them from a folder in the TGVE
submission layout. Both score what is on disk (the JPEG frames), so a run and an `eval` of its
submission give the same numbers, and a resumed run scores exactly what an uninterrupted one does.

Under torchrun or accelerate launch each rank takes its shard of the samples (distributed.py);
records are per sample, and the summary is built once from the records on disk, so the results
do not depend on the number of ranks.

Resuming (resume.py): each generated sample leaves a record holding its cache key and the digest
of its frames; a re-run skips samples whose record matches and whose frames are exactly those,
without loading the model, and computes only the metrics the record lacks. The record is written
as soon as the output is, and again once the metrics are in: scoring runs in batches of several
samples (scoring.py).
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import replace
from pathlib import Path

from eve_bench.errors import RunError, printable
from eve_bench.metrics import Metric, MetricOptions
from eve_bench.models import load_model, resolve_factory
from eve_bench.paths import is_within
from eve_bench.run.config import RunConfig, SuiteSelection, prepare_suite
from eve_bench.run.distributed import Group, Ranks, Tally, raise_rank_errors
from eve_bench.run.folder import RESULTS, RunFolder, writing
from eve_bench.run.generation import generate, output_problem
from eve_bench.run.results import SampleRecord, write_results
from eve_bench.run.resume import cache_key, failed_before, finished, keyed_model_args, sample_seed
from eve_bench.run.scoring import Pending, Scorer, requested_metrics, score_stream, source_or_missing
from eve_bench.run.summary import build_summary, progress_bar
from eve_bench.sample import Sample
from eve_bench.suites import Suite, load_suite

__all__ = ["evaluate_submission", "run"]

UNFINISHED = "the run stopped while the model ran on this sample (killed?); it runs again on the next run"


def run(cfg: RunConfig) -> dict:
    """Evaluate a model on a suite; returns the summary (also written to cfg.out/summary.json)."""
    started = time.time()
    ranks = Ranks.from_env()
    folder = RunFolder(cfg.out)
    suite, n_missing = prepare_suite(cfg.selection)
    device = ranks.device(cfg.device)  # this rank's: the model and the metrics share it
    with Group(ranks, device) as group, group.claimed(folder, cfg.identity(suite), cfg.overwrite):
        metrics, skipped = requested_metrics(cfg.metrics, suite, cfg.metric_options.on(device))
        # Samples that failed last time (a timeout among them) go last, so that one which hangs
        # every time cannot keep the rest of the suite from ever running.
        todo = sorted(suite.samples, key=lambda smp: failed_before(folder.record(smp)))
        # A model that spreads itself over the devices (device_map) runs once, on rank 0.
        # (Looked up only then: a single process need not import the model for a cached re-run.)
        if ranks.distributed and getattr(resolve_factory(cfg.model), "shards_itself", False):
            mine = todo if ranks.is_main else []
        else:
            mine = ranks.shard(todo)
        tally = Tally()
        error = _guarded(lambda: _run_shard(cfg, suite, folder, Scorer(metrics, cfg.selection.frame_policy), mine,
                                            tally, ranks, device), tally)
        tallies = group.gather(tally)
        raise_rank_errors(tallies, ranks, error)
        summary = None
        if ranks.is_main:
            summary = _write_summary(cfg, suite, folder, metrics, tallies, n_missing, started, ranks,
                                     skipped_metrics=skipped)
        return group.broadcast(summary)


def _run_shard(cfg: RunConfig, suite: Suite, folder: RunFolder, scorer: Scorer, samples: list[Sample], tally: Tally,
               ranks: Ranks, device: str) -> None:
    keyed_args = keyed_model_args(cfg.model_args, getattr(resolve_factory(cfg.model), "reads", None))
    model = None
    bar = progress_bar(len(samples), _desc(f"{cfg.model} on {suite.name}", ranks), cfg.progress and ranks.is_main)

    def done(p: Pending) -> None:
        _save(folder, p.sample, p.record)
        tally.keys.append(p.sample.key)
        bar.update(1)

    def to_score():
        nonlocal model
        for sample in samples:
            if tally.stopped:
                return
            seed = sample_seed(cfg.seed, sample)
            key = cache_key(cfg, suite, sample, seed, keyed_args)
            record = SampleRecord.load(folder.record(sample))
            if finished(record, key, folder.frames(sample)):
                record.cached = True
            else:
                t0 = time.perf_counter()
                source = source_or_missing(scorer, suite, sample, cfg.selection.skip_missing)
                if source is None:
                    tally.n_missing += 1
                    continue
                record = _new_record(sample, key, seed)
                record.timings["load_s"] = round(time.perf_counter() - t0, 4)
                if model is None:
                    model = load_model(cfg.model, cfg.model_args, device=device)
                # Until its new outputs are complete, the sample's record says it failed: a run
                # killed in between leaves no record vouching for frames or a preview it did not
                # make (and the sample goes last next time, as any failed one).
                _save(folder, sample, replace(record, status="failed", error=UNFINISHED))
                tally.n_model_calls += 1
                try:
                    tally.stopped = generate(model, sample, source, folder, record, timeout=cfg.timeout,
                                             fail_fast=cfg.fail_fast, previews=cfg.previews)
                except BaseException:
                    # Not a failure of the model (a failed write, --fail-fast, Ctrl-C): no record,
                    # so nothing is held against it; the next run calls it again.
                    with contextlib.suppress(OSError):  # the error being raised says what went wrong
                        folder.record(sample).unlink(missing_ok=True)
                    raise
                if record.status == "failed":
                    folder.discard(sample)
                # The output counts from here on; its metrics follow with the next scoring batch.
                _save(folder, sample, record)
            pending = Pending(sample, record, lambda s=sample: scorer.item(s, scorer.output(s, folder.frames(s), folder.root)))
            if record.status == "ok" and scorer.pending(record):
                yield pending
            else:
                done(pending)

    try:
        score_stream(scorer, to_score(), done, fail_fast=cfg.fail_fast, failure_prefix="scoring: ")
    except KeyboardInterrupt:  # Ctrl-C outside the model's call: the finished samples still get a summary
        tally.stopped = "interrupted (KeyboardInterrupt); the run stopped"
    bar.close()


def evaluate_submission(
    submission: Path,
    out: Path,
    selection: SuiteSelection,
    metrics: list[str] | None = None,
    metric_options: MetricOptions | None = None,
    progress: bool = True,
    overwrite: bool = False,
    device: str = "cpu",
) -> dict:
    """Score a folder in the official layout (<group>/<video>/<task>/00000.jpg ...) with no model."""
    started = time.time()
    submission, folder = Path(submission), RunFolder(out)
    if not submission.is_dir():
        raise RunError(f"--submission {submission}: no such folder")
    if any(is_within(submission, folder.root / name) for name in RESULTS):
        raise RunError(f"--submission {submission} lies inside the results of --out {folder.root}, which this eval "
                       "would replace; choose another --out")
    suite, n_missing = prepare_suite(selection)
    cfg = RunConfig(model=f"submission:{submission}", out=folder.root, selection=selection, device=device,
                    metric_options=metric_options or MetricOptions())
    ranks = Ranks.from_env()
    # The submission by its absolute path: `eval` of the same folder named another way is the same.
    identity = dict(cfg.identity(suite), model=f"submission:{submission.resolve()}")
    device = ranks.device(cfg.device)
    with Group(ranks, device) as group, group.claimed(folder, identity, overwrite):
        built, skipped = requested_metrics(metrics, suite, cfg.metric_options.on(device))
        scorer = Scorer(built, selection.frame_policy)
        tally = Tally()
        error = _guarded(lambda: _eval_shard(submission, folder, scorer, suite, ranks.shard(suite.samples), selection, tally,
                                             _desc(f"eval {submission.name} on {suite.name}", ranks),
                                             progress and ranks.is_main), tally)
        tallies = group.gather(tally)
        raise_rank_errors(tallies, ranks, error)
        summary = None
        if ranks.is_main:
            summary = _write_summary(cfg, suite, folder, built, tallies, n_missing, started, ranks,
                                     skipped_metrics=skipped, unmatched_folders=_unmatched_folders(submission, selection))
        return group.broadcast(summary)


def _eval_shard(submission: Path, folder: RunFolder, scorer: Scorer, suite: Suite, samples: list[Sample],
                selection: SuiteSelection, tally: Tally, desc: str, show: bool) -> None:
    bar = progress_bar(len(samples), desc, show)

    def done(p: Pending) -> None:
        _save(folder, p.sample, p.record)
        tally.keys.append(p.sample.key)
        bar.update(1)

    def load(sample: Sample, frames_dir: Path):
        source = scorer.source(sample)
        edited = scorer.output(sample, frames_dir, submission)
        problem = output_problem(edited, source)
        if problem:
            raise ValueError(problem.replace("model returned", "submission has"))
        return scorer.item(sample, edited)

    def to_score():
        for sample in samples:
            if source_or_missing(scorer, suite, sample, selection.skip_missing) is None:
                tally.n_missing += 1
                continue
            record = _new_record(sample, "", None)
            frames_dir = submission / sample.group / sample.video_id / sample.edit_id
            record.output = str(frames_dir)
            yield Pending(sample, record, lambda s=sample, d=frames_dir: load(s, d))

    score_stream(scorer, to_score(), done, fail_fast=False)
    bar.close()


def _guarded(work, tally: Tally) -> Exception | None:
    """Run this rank's work; an exception is kept (and named in its tally) until the ranks have
    exchanged tallies, so the others are not left waiting for it."""
    try:
        work()
    except Exception as e:
        tally.error = f"{type(e).__name__}: {e}"
        return e
    return None


def _write_summary(cfg: RunConfig, suite: Suite, folder: RunFolder, metrics: list[Metric], tallies: list[Tally],
                   n_missing: int, started: float, ranks: Ranks, **extra) -> dict:
    """samples.jsonl and summary.json, written once, from the records on disk of the samples the
    ranks recorded in this run, in suite order: the same files at any number of ranks."""
    recorded = {key for t in tallies for key in t.keys}
    records = [SampleRecord.load(folder.record(s)) for s in suite.samples if s.key in recorded]
    missing_now = sum(t.n_missing for t in tallies)
    n_not_run = len(suite.samples) - len(records) - missing_now
    summary = build_summary(cfg, suite, records, metrics, n_missing + missing_now, started)
    summary.update(n_model_calls=sum(t.n_model_calls for t in tallies),
                   stopped=next((t.stopped for t in tallies if t.stopped), None), n_not_run=n_not_run,
                   world_size=ranks.world_size, **extra)
    summary["n_samples"] += n_not_run
    with writing(folder.root / "summary.json"):
        write_results(folder.root, records, summary)
    return summary


def _save(folder: RunFolder, sample: Sample, record: SampleRecord) -> None:
    with writing(folder.record(sample)):
        record.save(folder.record(sample))


def _desc(text: str, ranks: Ranks) -> str:
    return f"{text} (rank 0 of {ranks.world_size})" if ranks.distributed else text


def _unmatched_folders(submission: Path, selection: SuiteSelection, shown: int = 100) -> list[str]:
    """Submission folders <group>/<video>/<edit_id> that match no sample of the whole suite (a typo
    in a group or task name, another suite's outputs): not scored, so the user is warned."""
    known = {s.key for s in load_suite(selection.suite, selection.data, **selection.suite_args).samples}
    # A folder linked out of the submission (a group linked to /) is not the submission's: not listed.
    extra = sorted(key for p in _folders(submission, 3) if (key := p.relative_to(submission).as_posix()) not in known)
    if extra:
        listed = ", ".join(map(printable, extra[:5])) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        print(f"eve-bench: warning: {len(extra)} folder(s) in {submission} match no sample of suite {selection.suite} "
              f"and were not scored: {listed}", file=sys.stderr)
    return extra[:shown]


def _folders(root: Path, depth: int) -> list[Path]:
    """The folders `depth` levels below `root` that lie inside it: a folder linked out of it (a
    group linked to /) is neither listed nor entered."""
    level = [root]
    for _ in range(depth):
        level = [c for p in level for c in sorted(p.iterdir()) if c.is_dir() and is_within(c, root)]
    return level


def _new_record(sample: Sample, key: str, seed: int | None) -> SampleRecord:
    return SampleRecord(
        key=sample.key, video_id=sample.video_id, group=sample.group, task=sample.task,
        edit_id=sample.edit_id, status="ok", cache_key=key, seed=seed,
    )
