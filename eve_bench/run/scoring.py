"""Scoring: the metrics a run computes, and applying them to samples in batches.

Frames of several samples go to each metric's `compute` together (encoders batch across samples),
while a thread pool decodes the next samples' frames: decoding (JPEG, mp4, resizing) overlaps the
encoders' work. A metric that raises on a batch is re-run item by item, so its error is recorded
against the sample that caused it and the other samples keep their values.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

from eve_bench.errors import MissingWeightsError, SuiteError, VideoReadError, WeightsError
from eve_bench.metrics import Metric, MetricInput, MetricOptions, build_metrics, with_family_args
from eve_bench.run.results import SampleRecord
from eve_bench.sample import FramePolicy, Sample
from eve_bench.suites import Suite
from eve_bench.suites.base import missing_sources_message
from eve_bench.video import Video, read_video

T = TypeVar("T")
R = TypeVar("R")

# Samples scored together: enough frames to fill a few encoder batches (TGVE clips have 32).
FRAMES_PER_SCORING_BATCH = 128
DECODE_AHEAD = 4  # samples decoded ahead of the one being scored


@dataclass
class Scored:
    """A sample ready to score: the record receiving the values and the metric input."""

    record: SampleRecord
    item: MetricInput


class Scorer:
    """Loads a sample's reference videos under the frame policy and applies every metric."""

    def __init__(self, metrics: list[Metric], policy: FramePolicy) -> None:
        self.metrics = metrics
        self.policy = policy
        # Suites list a video's tasks together: the last few decoded sources are kept. Decoding
        # threads share it, hence the lock.
        self._sources: OrderedDict[str, Video] = OrderedDict()
        self._lock = threading.Lock()

    def source(self, sample: Sample) -> Video:
        ident = f"{sample.group}/{sample.video_id}/{sample.source_path}"
        with self._lock:
            if ident in self._sources:
                return self._sources[ident]
        video = self.policy.apply(sample.load_source())
        with self._lock:
            self._sources[ident] = video
            while len(self._sources) > DECODE_AHEAD + 1:
                self._sources.popitem(last=False)
        return video

    def output(self, sample: Sample, frames: Path, within: Path) -> Video:
        """An output's frames, refused before any is decoded unless they have the source's count and
        size, and unless they lie inside `within` (the run folder, the submission)."""
        source = self.source(sample)
        return read_video(frames, fps=source.fps, expect=source.frames.shape[:3], within=within)

    def pending(self, record: SampleRecord) -> list[Metric]:
        """Metrics with no value in the record under their current configuration."""
        return [m for m in self.metrics if record.metric_ids.get(m.name) != m.cache_id]

    def item(self, sample: Sample, edited: Video) -> MetricInput:
        item = MetricInput(sample=sample, edited=edited, source=self.source(sample))
        if sample.load_ground_truth is not None:
            item.ground_truth = self.policy.apply(sample.load_ground_truth())
        if sample.load_mask is not None:
            item.mask = self.policy.apply_mask(sample.load_mask())
        return item

    def score(self, batch: list[Scored]) -> None:
        """Fill each record's pending metrics, one `compute` call per metric for the whole batch."""
        if not batch:
            return
        t0 = time.perf_counter()
        for metric in self.metrics:
            todo = [s for s in batch if metric in self.pending(s.record)]
            ready = [s for s in todo if all(s.item.has(r) for r in metric.requires)]
            for s in todo:
                if s not in ready:  # undefined here (e.g. ground truth on TGVE); not an error
                    _store(s.record, metric, None)
            if ready:
                self._compute(metric, ready)
        share = round((time.perf_counter() - t0) / len(batch), 4)
        for s in batch:
            s.record.timings["score_s"] = share  # the sample's share of its batch

    def _compute(self, metric: Metric, batch: list[Scored]) -> None:
        try:
            values = metric.compute([s.item for s in batch])
        except (MissingWeightsError, WeightsError):
            raise  # weights that load lazily (warm re-scoring) fail the run, as at prepare()
        except Exception as e:  # one metric failing must not lose the others
            if len(batch) == 1:
                batch[0].record.metric_errors[metric.name] = f"{type(e).__name__}: {e}"
                return
            for s in batch:  # find the sample at fault; the others still get their values
                self._compute(metric, [s])
            return
        for s, value in zip(batch, values):
            _store(s.record, metric, value if metric.set_level else float(value))


def _store(record: SampleRecord, metric: Metric, value: float | dict | None) -> None:
    # A set-level metric's per-sample value is its state, summed by the summary (results.py).
    (record.set_states if metric.set_level else record.metrics)[metric.name] = value
    record.metric_ids[metric.name] = metric.cache_id
    record.metric_errors.pop(metric.name, None)


def prefetched(fn: Callable[[T], R], items: Iterable[T], ahead: int = DECODE_AHEAD) -> Iterator[tuple[T, Future]]:
    """(item, future of fn(item)) in order, with up to `ahead` items computed by a thread ahead
    of the consumer: decoding (which releases the GIL) overlaps the caller's work."""
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="eve-bench-decode")
    window: list[tuple[T, Future]] = []
    try:
        for x in items:
            window.append((x, pool.submit(fn, x)))
            if len(window) > ahead:
                yield window.pop(0)
        yield from window
    finally:
        for _, future in window:
            future.cancel()
        pool.shutdown(wait=True)


def source_or_missing(scorer: Scorer, suite: Suite, sample: Sample, skip_missing: bool) -> Video | None:
    """The sample's source, or None when it cannot be decoded and --skip-missing counts it missing.
    A source that opened when the suite was checked but does not decode is bad data, never the
    model's failure: without --skip-missing the run stops (SuiteError) naming the file and every
    sample of the suite that reads it."""
    try:
        return scorer.source(sample)
    except VideoReadError as e:
        if not skip_missing:
            affected = sum(s.source_path == sample.source_path for s in suite.samples)
            raise SuiteError(missing_sources_message({sample.source_path: str(e)}, affected)) from e
        return None


def prepare_metrics(names: list[str], suite: Suite, options: MetricOptions, strict: bool) -> tuple[list[Metric], dict]:
    """Build and prepare metrics (weights are checked here, before any model runs), with the
    suite's metric defaults filling options the user left unset. strict: missing weights raise at
    once; otherwise such metrics are skipped and returned as {name: reason}."""
    options = dataclasses.replace(options, metric_args=with_family_args(options.metric_args, suite.metric_defaults, names))
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


def requested_metrics(requested: list[str] | None, suite: Suite, options: MetricOptions) -> tuple[list[Metric], dict]:
    """Metrics named explicitly must all load. A suite's defaults may include metrics whose weights
    a machine lacks (real CLIP on TGVE); those are skipped with a warning and listed under
    `skipped_metrics` in the summary, so the run stays useful and says plainly what it did not
    compute."""
    metrics, skipped = prepare_metrics(requested or list(suite.default_metrics), suite, options, strict=bool(requested))
    for name, reason in skipped.items():
        print(f"eve-bench: warning: skipping default metric {name}: {reason}", file=sys.stderr)
    return metrics, skipped


@dataclass
class Pending:
    """A sample whose record waits for metric values; `load` reads its frames (in a decoding
    thread)."""

    sample: Sample
    record: SampleRecord
    load: Callable[[], MetricInput]


def score_stream(scorer: Scorer, pending: Iterable[Pending], done: Callable[[Pending], None], *, fail_fast: bool,
                 failure_prefix: str = "") -> None:
    """Score `pending` in batches while the next samples decode; `done(p)` once p's record holds its
    values or its failure (frames that cannot be read fail the sample, as an invalid output)."""
    batch: list[Pending] = []
    items: list[Scored] = []
    n_frames = 0

    def flush() -> None:
        nonlocal batch, items, n_frames
        scorer.score(items)
        for p in batch:
            done(p)
        batch, items, n_frames = [], [], 0

    for p, future in prefetched(lambda p: p.load(), pending):
        try:
            item = future.result()
        except SuiteError:
            raise  # bad data stops the run, as everywhere
        except Exception as e:
            if fail_fast:
                raise
            p.record.status, p.record.error = "failed", f"{failure_prefix}{type(e).__name__}: {e}"
            done(p)
            continue
        batch.append(p)
        items.append(Scored(p.record, item))
        n_frames += item.edited.num_frames
        if n_frames >= FRAMES_PER_SCORING_BATCH:
            flush()
    flush()
