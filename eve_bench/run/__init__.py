"""The run engine: a suite's samples through a model and the metrics into a run folder.

config (what a run is asked to do) -> folder (where it writes, one process and one configuration
at a time) -> resume (which finished samples are reused) -> generation (one model call) -> scoring
(metrics over batches) -> results (records, samples.jsonl, summary.json) and summary; distributed
shards it over ranks, and runner joins them (`run`, `evaluate_submission`)."""
