"""`eve-bench` command line: run, eval, list, leaderboard, paper-tables, validity, convert-viclip, human, judge, synth."""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

from eve_bench.encoders.precision import CHOICES

EPILOG_RUN = """examples:
  eve-bench run --model identity --limit 2                      # synthetic suite, offline
  eve-bench run --model reference.eve                           # the reference EVE model
  eve-bench run --model my_pkg.my_editor --model-args steps=20,guidance=7.5
  eve-bench run --model my_pkg.editors:MyEditor --suite tgve --data /data/loveu-tgve-2023 --tasks style,object
  eve-bench run --model identity --suite tgve --data ../shared/data/tgve --skip-missing --limit 2

A run folder holds submission/<group>/<video>/<task>/00000.jpg ... (the official TGVE layout),
previews/<group>/<video>/<task>.mp4, records/ (one JSON per finished sample), samples.jsonl and
summary.json. Re-running the same command resumes: finished samples are not recomputed.

exit status: 0 every sample scored; 1 some samples failed (the model's errors or invalid outputs);
2 error (bad arguments, data, weights, a locked or foreign --out, a failed write); 3 the run
stopped early (--timeout, the model called sys.exit, Ctrl-C), with its summary written.
"""


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _csv_list(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def parse_kv_args(text: str | None) -> dict:
    """Parse "a=1,b=x,c=true" into {"a": 1, "b": "x", "c": True} (Python literals where they parse)."""
    result: dict = {}
    if not text:
        return result
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected key=value in {text!r}, got {part!r}")
        value = value.strip()
        lowered = value.lower()
        if lowered in ("true", "false"):
            parsed = lowered == "true"
        elif lowered in ("none", "null"):
            parsed = None
        else:
            try:
                parsed = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                parsed = value
        result[key.strip()] = parsed
    return result


def parse_metric_args(text: str | None) -> dict:
    """"clip_text.model=DIR,pick_score.processor=DIR" -> {"clip_text": {"model": "DIR"}, ...}."""
    out: dict = {}
    for key, value in parse_kv_args(text).items():
        metric, dot, option = key.partition(".")
        if not dot or not metric or not option:
            raise ValueError(f"--metric-args takes METRIC.OPTION=VALUE, got {key!r}")
        out.setdefault(metric, {})[option] = value
    return out


def _add_suite_args(p: argparse.ArgumentParser, default_suite: str | None) -> None:
    g = p.add_argument_group("suite")
    g.add_argument("--suite", default=default_suite, help=f"suite name (eve-bench list suites); default: {default_suite}")
    g.add_argument("--data", help="dataset folder (TGVE: the extracted loveu-tgve-2023 zip or repo configs + videos)")
    g.add_argument("--suite-args", default="", metavar="K=V,...", help="suite options, e.g. parquet=PATH,task_column=edit_type (TGVE+)")
    g.add_argument("--tasks", help="comma-separated tasks to keep (default: all of the suite's)")
    g.add_argument("--limit", type=int, help="at most N samples per task")
    g.add_argument("--skip-missing", action="store_true", help="skip samples whose source video is missing or unreadable (counted as n_missing)")
    g.add_argument("--max-frames", type=int, help="keep at most N frames (after --frame-stride); default: all")
    g.add_argument("--frame-stride", type=int, default=1, help="keep every N-th frame; default 1")
    g.add_argument("--frame-size", type=int, help="resize frames to SIZE x SIZE; default: native size")


def _add_metric_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("metrics")
    g.add_argument("--metrics", help="comma-separated metric names (eve-bench list metrics); default: the suite's")
    g.add_argument("--metric-args", default="", metavar="METRIC.OPTION=V,...",
                   help="each metric's own options (eve-bench list metrics), e.g. clip_text.model=DIR,pick_score.processor=DIR; "
                        "the flags below set them for every metric that has them")
    g.add_argument("--precision", choices=CHOICES, default="fp32",
                   help="encoders' compute dtype: fp32 (default, as the official script) or bf16/fp16 autocast, faster "
                        "where the device supports it (docs/metrics-clip.md quotes the difference); auto: bf16 where "
                        "the device runs it natively (a GPU, a CPU with AVX512-BF16 or AMX), else fp32")
    g.add_argument("--clip-model", help="CLIP weights: local folder or hub id already in the local HF cache")
    g.add_argument("--pickscore-model", help="PickScore weights: local folder or cached hub id")
    g.add_argument("--pickscore-processor", help="processor for PickScore: local folder or cached hub id")
    g.add_argument("--viclip-model", help="ViCLIP weights: an eve-bench ViCLIP folder or safetensors file (eve-bench convert-viclip makes one from a .pth)")
    g.add_argument("--viclip-preprocess", default="", metavar="K=V,...",
                   help="ViCLIP frame sampling and pixels, e.g. sampling=middle,recipe=internvid (default uniform, clip)")
    g.add_argument("--vlm-model", help="VLM judge weights for vlm_text, vlm_structure, vlm_quality: local folder or cached hub id")
    g.add_argument("--batch-size", type=int, default=32, help="frames per encoder batch; default 32")
    g.add_argument("--device", default="cpu", help="torch device for the model (run) and the metrics, e.g. cuda; default cpu")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eve-bench",
        description="Evaluate text-guided video editing models on TGVE, TGVE+ and a synthetic suite with ground truth.",
    )
    from eve_bench import __version__

    parser.add_argument("--version", action="version", version=f"eve-bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run a model on a suite and score it", epilog=EPILOG_RUN,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Run an editing model on every sample of a suite, write its outputs and score them.")
    p.add_argument("--model", required=True, help="registered name (eve-bench list models), package.module (calls its load()), or package.module:Name")
    p.add_argument("--model-args", default="", metavar="K=V,...", help="keyword arguments for the model factory")
    _add_suite_args(p, "synth")
    _add_metric_args(p)
    p.add_argument("--out", help="run folder; default runs/<model>-<suite>")
    p.add_argument("--seed", type=int, default=0, help="base seed; each sample gets a seed derived from it and its key")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failing sample (for debugging a model)")
    p.add_argument("--timeout", type=_positive, metavar="SECONDS",
                   help="per-sample limit on the model's edit call; past it the sample fails and the run stops (exit 3)")
    p.add_argument("--overwrite", action="store_true",
                   help="--out holds results of another model or configuration: replace them (default: refuse)")
    p.add_argument("--no-previews", action="store_true", help="do not write mp4 previews")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("eval", help="score a submission folder without running a model",
                       description="Score outputs in the official TGVE layout (<group>/<video>/<task>/00000.jpg ...) made by any codebase.")
    p.add_argument("--submission", required=True, help="folder holding <group>/<video>/<task>/*.jpg")
    _add_suite_args(p, None)
    _add_metric_args(p)
    p.add_argument("--out", help="results folder; default <submission>-eval")
    p.add_argument("--overwrite", action="store_true", help="--out holds another run's or submission's results: replace them")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("list", help="list suites, tasks, models or metrics")
    p.add_argument("what", choices=["suites", "tasks", "models", "metrics"])
    p.add_argument("--suite", help="with 'tasks': the suite whose tasks to show")
    p.add_argument("--data", help="with 'tasks': the suite's data folder, where it needs one")

    p = sub.add_parser("leaderboard", help="tabulate finished runs (markdown, CSV, bar chart, HTML with a video gallery)")
    p.add_argument("runs", nargs="+", help="run folders (each with summary.json), all on the same suite")
    p.add_argument("--out", required=True, help="folder for leaderboard.md, .csv, .png, .html and the gallery's leaderboard_media/")
    p.add_argument("--title", help="title of the markdown and HTML pages")
    p.add_argument("--gallery-per-task", type=int, default=2, metavar="N",
                   help="samples per task in the HTML gallery (their videos are copied beside the page); 0: no gallery. Default 2")
    p.add_argument("--gallery-size", type=int, default=128, metavar="PX",
                   help="gallery videos at most PX pixels on a side (larger previews are transcoded). Default 128")
    p.add_argument("--reported", choices=["tgve", "tgve-plus"],
                   help="add the published numbers of this benchmark beside the runs (runs must be on the same suite)")

    p = sub.add_parser("paper-tables", help="EVE's Tables 1 and 2 in the paper's layout: published, measured and ground-truth-judged rows",
                       description="Write table1-tgve, table1-tgve-plus, table1-synth and table2-synth (.md, .csv, and plots of "
                                   "the preferences) to --out. Run folders that do not exist are listed as not run. See "
                                   "docs/paper_tables.md; leaderboards/paper_tables.sh is the committed invocation.")
    p.add_argument("--out", required=True, help="folder for the tables")
    p.add_argument("--eve", help="the EVE student's synth run: Table 1 synth's first row, and full EVE in Table 2")
    p.add_argument("--synth", nargs="*", default=[], metavar="RUN", help="other synth runs for Table 1 (the baselines)")
    p.add_argument("--ablation", nargs="*", default=[], metavar="ROW=RUN",
                   help="Table 2 rows: random_init, no_alignment, no_sds, no_discriminators, no_kbin = a synth run")
    p.add_argument("--seed-pair", nargs="*", default=[], metavar="ROW:SEED=EVE_RUN,ABLATION_RUN",
                   help="Table 2 rows again per training seed: full EVE and the ablation trained with that seed")
    p.add_argument("--tgve", nargs="*", default=[], metavar="RUN", help="runs on tgve to put beside the published TGVE rows")
    p.add_argument("--tgve-plus", nargs="*", default=[], metavar="RUN", help="runs on tgve-plus to put beside the published TGVE+ rows")
    p.add_argument("--validity-videos", type=int, default=0, metavar="N",
                   help="also check the ground-truth preference criteria on graded outputs of N synth videos (criteria-validity.md)")
    p.add_argument("--vlm-judged", nargs="*", default=[], metavar="JUDGE_JSON",
                   help="judge.json tables of `eve-bench judge` (EVE's run against another): VLM-judged columns beside the human ones")

    p = sub.add_parser("validity", help="measure how well each metric tracks the synth suite's ground truth",
                       description="Score outputs of graded quality (ground truth, noise, flicker, shuffled frames, partial and "
                                   "wrong edits, identity) on synth samples with every metric, and report each metric's "
                                   "Spearman correlation with the ground-truth metrics (markdown, JSON, heatmap).")
    p.add_argument("--out", required=True, help="folder for metric_validity.md / .json / .png")
    p.add_argument("--n-videos", type=int, default=8, help="synth videos to use (x 7 tasks); default 8")
    p.add_argument("--seed", type=int, default=0, help="seed of the degradations")
    _add_metric_args(p)

    p = sub.add_parser("convert-viclip", help="convert a trusted ViCLIP .pth checkpoint into a folder --viclip-model loads",
                       description="Read a ViCLIP .pth (such as the public ViClip-InternVid-10M-FLT.pth) and write it as a "
                                   "folder of config.json + model.safetensors. Metrics never load .pth files themselves: "
                                   "a pickle can run code, so converting one is a deliberate step.")
    p.add_argument("src", help="the .pth checkpoint")
    p.add_argument("out", help="folder to write (pass it as --viclip-model)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow a full unpickle (which can run code) for checkpoints holding more than tensors; only for files you trust")

    p = sub.add_parser("human", help="pairwise human evaluation in the browser (EVE's protocol): serve the rating page, report the votes")
    human_sub = p.add_subparsers(dest="human_command", required=True, metavar="ACTION")
    hp = human_sub.add_parser("serve", help="serve the rating page for every pair of these runs; votes go to --db")
    hp.add_argument("runs", nargs="+", help="two or more run folders on the same suite (their previews are shown)")
    hp.add_argument("--db", required=True, help="SQLite file for the votes (created; reopened to resume)")
    hp.add_argument("--host", default="127.0.0.1", help="interface to listen on; default 127.0.0.1 (this machine only)")
    hp.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one. Default 8000")
    hp.add_argument("--ties", action="store_true", help="let raters answer 'tie'")
    hp = human_sub.add_parser("report", help="the votes as EVE's human table (%% preferring A per question, Avg.), with intervals and agreement")
    hp.add_argument("--db", required=True, help="the votes database of eve-bench human serve")
    hp.add_argument("--out", help="folder for human_eval.md, .csv, .json and votes.csv (every vote)")

    p = sub.add_parser("judge", help="pairwise VLM judge of two runs (EVE's human protocol asked of a local VLM): "
                                     "%% preferring A per question, as `human report` writes it",
                       description="Ask a local vision-language model the human study's three questions about every "
                                   "sample two runs both scored, in both orders, and write the human report's table "
                                   "(judge.md, .csv, .json) and every answer's probabilities (judgements.csv). With "
                                   "--validity-videos, also judge graded outputs of known order (judge-validity.md). "
                                   "See docs/metrics-vlm.md.")
    p.add_argument("runs", nargs="*", metavar="RUN", help="RUN_A RUN_B: two run folders on the same suite")
    p.add_argument("--model", required=True, help="VLM weights: a local folder or a hub id in the local HF cache "
                                                  "(any image-text-to-text model with a chat template; safetensors)")
    p.add_argument("--out", required=True, help="folder for the tables")
    p.add_argument("--frames", type=int, help="frames per video, spread uniformly (default: as the vlm_* metrics)")
    p.add_argument("--max-pixels", type=int, help="pixels per frame at most, the memory option (default: as the vlm_* metrics)")
    p.add_argument("--input", help="videos shown as 'video' (default) or 'images' (for models without video input)")
    p.add_argument("--prompts", help="prompt version shipped with eve-bench (default v1) or a YAML file")
    p.add_argument("--validity-videos", type=int, default=0, metavar="N",
                   help="also judge graded outputs of N synth videos whose order is known (judge-validity.md)")
    p.add_argument("--precision", choices=CHOICES, default="fp32", help="the model's dtype: fp32 (default), bf16, fp16, auto")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cuda; default cpu")
    p.add_argument("--batch-size", type=int, default=32, help="frames per forward pass (a prompt shows 3 videos); default 32")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("synth", help="the synthetic suite: preview it")
    synth_sub = p.add_subparsers(dest="synth_command", required=True, metavar="ACTION")
    pp = synth_sub.add_parser("preview", help="write a contact sheet PNG: every task, source frames, instruction, ground truth")
    pp.add_argument("--out", required=True, help="PNG path")
    pp.add_argument("--seed", type=int, default=0, help="scene seed")
    return parser


def _selection(args):
    from eve_bench.run.config import SuiteSelection
    from eve_bench.sample import FramePolicy

    return SuiteSelection(
        suite=args.suite,
        data=args.data,
        suite_args=parse_kv_args(args.suite_args),
        tasks=_csv_list(args.tasks),
        limit=args.limit,
        skip_missing=args.skip_missing,
        frame_policy=FramePolicy(max_frames=args.max_frames, stride=args.frame_stride, size=args.frame_size),
    )


def _metric_options(args):
    """The metrics' options; the family flags are aliases, set for each metric of their family
    unless --metric-args sets that metric's own value. The device is the run's (`MetricOptions.on`)."""
    from eve_bench.metrics import MetricOptions, with_family_args

    family_args = {"clip.model": args.clip_model, "pickscore.model": args.pickscore_model,
                   "pickscore.processor": args.pickscore_processor, "viclip.model": args.viclip_model,
                   "vlm.model": args.vlm_model,
                   **{f"viclip.{k}": v for k, v in parse_kv_args(args.viclip_preprocess).items()}}
    return MetricOptions(batch_size=args.batch_size, precision=args.precision,
                         metric_args=with_family_args(parse_metric_args(args.metric_args), family_args))


def _print_summary(summary: dict, out: Path) -> None:
    from eve_bench.run.distributed import Ranks

    if not Ranks.from_env().is_main:  # one summary per job, not one per rank
        return
    print(f"\n{summary['model']} on {summary['suite']}: {summary['n_samples']} samples, "
          f"{summary['n_failed']} failed, {summary['n_cached']} cached, {summary['n_missing']} missing")
    for name, value in summary["metrics"]["overall"].items():
        direction = summary["metric_info"][name]["direction"]
        print(f"  {name:28s} {'–' if value is None else f'{value:.4f}'}  ({direction} is better, n={summary['metric_counts'][name]})"
              if direction != "-" else f"  {name:28s} {'–' if value is None else f'{value:.4f}'}  (n={summary['metric_counts'][name]})")
    for name, reason in summary.get("skipped_metrics", {}).items():
        print(f"  {name:28s} SKIPPED: weights missing (the warning above and summary.json say which and how to supply them)")
    for f in summary["failures"][:10]:
        print(f"  FAILED {f['key']}: {f['error']}")
    if len(summary["failures"]) > 10:
        print(f"  ... {len(summary['failures']) - 10} more failures in {out / 'samples.jsonl'}")
    if summary.get("stopped"):
        print(f"  STOPPED: {summary['stopped']}; {summary['n_not_run']} sample(s) not run (re-run the command to resume)")
    print(f"results: {out / 'summary.json'}")


def _cmd_run(args) -> int:
    from eve_bench.run.config import RunConfig
    from eve_bench.run.results import exit_code
    from eve_bench.run.runner import run

    sel = _selection(args)
    out = Path(args.out or f"runs/{args.model.replace(':', '.').replace('/', '_')}-{sel.suite}")
    cfg = RunConfig(
        model=args.model, out=out, selection=sel, model_args=parse_kv_args(args.model_args), seed=args.seed,
        device=args.device, metrics=_csv_list(args.metrics), metric_options=_metric_options(args),
        fail_fast=args.fail_fast, previews=not args.no_previews, progress=not args.quiet,
        timeout=args.timeout, overwrite=args.overwrite,
    )
    summary = run(cfg)
    _print_summary(summary, out)
    return exit_code(summary)


def _cmd_eval(args) -> int:
    from eve_bench.run.results import exit_code
    from eve_bench.run.runner import evaluate_submission

    if not args.suite:
        raise SystemExit("eve-bench eval: --suite is required (e.g. tgve, tgve-plus, synth)")
    submission = Path(args.submission)
    out = Path(args.out or f"{submission.as_posix().rstrip('/')}-eval")
    summary = evaluate_submission(submission, out, _selection(args), _csv_list(args.metrics), _metric_options(args),
                                  progress=not args.quiet, overwrite=args.overwrite, device=args.device)
    _print_summary(summary, out)
    return exit_code(summary)


def _cmd_list(args) -> int:
    from eve_bench.metrics import METRICS
    from eve_bench.models import DESCRIPTIONS, MODELS
    from eve_bench.suites import SUITES, load_suite

    if args.what == "suites":
        for name in SUITES.names():
            print(name)
    elif args.what == "models":
        for name in MODELS.names():
            print(f"{name:<20}{DESCRIPTIONS.get(name, '')}".rstrip())
        print("(any package.module with load(**kwargs), or package.module:Name, works too)")
    elif args.what == "tasks":
        if not args.suite:
            raise SystemExit("eve-bench list tasks: pass --suite NAME")
        print("\n".join(load_suite(args.suite, args.data).tasks))
    else:
        for name in METRICS.names():
            cls = METRICS.get(name)
            better = "diagnostic, no better direction" if cls.higher_is_better is None else f"{cls.direction()} is better"
            better += "; set-level" if cls.set_level else ""
            print(f"{name}  [{better}; needs: {', '.join(sorted(cls.requires)) or 'edited video'}; weights: {cls.weights}]")
            print(f"    {cls.definition}")
            for option, text in cls.own_options.items():
                print(f"    --metric-args {name}.{option}=...  {text}")
    return 0


def _cmd_leaderboard(args) -> int:
    from eve_bench.reports.leaderboard import write_leaderboard

    for path in write_leaderboard(args.runs, args.out, args.title, args.reported, args.gallery_per_task, args.gallery_size):
        print(path)
    return 0


def _cmd_paper_tables(args) -> int:
    from eve_bench.reports.paper_tables import PaperTablesConfig, SeedPair, write_paper_tables

    ablations = {}
    for item in args.ablation:
        row, sep, run_dir = item.partition("=")
        if not sep or not run_dir:
            raise ValueError(f"--ablation takes ROW=RUN, got {item!r}")
        ablations[row] = Path(run_dir)
    seeds = []
    for item in args.seed_pair:
        key, sep, runs = item.partition("=")
        row, colon, seed = key.partition(":")
        pair = runs.split(",")
        if not (sep and colon and row and seed and len(pair) == 2 and all(pair)):
            raise ValueError(f"--seed-pair takes ROW:SEED=EVE_RUN,ABLATION_RUN, got {item!r}")
        seeds.append(SeedPair(row, seed, Path(pair[0]), Path(pair[1])))
    cfg = PaperTablesConfig(out=Path(args.out), eve=Path(args.eve) if args.eve else None, synth=[Path(p) for p in args.synth],
                            ablations=ablations, tgve=[Path(p) for p in args.tgve], tgve_plus=[Path(p) for p in args.tgve_plus],
                            validity_videos=args.validity_videos, vlm_judged=[Path(p) for p in args.vlm_judged],
                            seeds=seeds)
    for path in write_paper_tables(cfg):
        print(path)
    return 0


def _cmd_validity(args) -> int:
    from eve_bench.reports.validity import write_report

    for path in write_report(args.out, args.n_videos, args.seed, _metric_options(args).on(args.device)):
        print(path)
    return 0


def _cmd_convert_viclip(args) -> int:
    from eve_bench.encoders.viclip import convert_pth

    print(convert_pth(args.src, args.out, trust_pickle=args.trust_pickle))
    return 0


def _cmd_human(args) -> int:
    if args.human_command == "serve":
        from eve_bench.human.server import ServeConfig, serve

        serve(ServeConfig(runs=args.runs, db=Path(args.db), host=args.host, port=args.port, ties=args.ties))
        return 0
    from eve_bench.human.report import write_report

    text, written = write_report(Path(args.db), Path(args.out) if args.out else None)
    print(text)
    for path in written:
        print(path)
    return 0


def _cmd_judge(args) -> int:
    from eve_bench.encoders.precision import resolve
    from eve_bench.encoders.vlm import VlmSettings
    from eve_bench.human.judge import JudgeConfig, PairJudge, write_graded, write_judge

    if not args.runs and not args.validity_videos:
        raise ValueError("eve-bench judge: give two run folders, --validity-videos N, or both")
    settings = VlmSettings(**{k: v for k, v in (("frames", args.frames), ("max_pixels", args.max_pixels),
                                                ("input", args.input)) if v is not None},
                           precision=resolve(args.precision, args.device))
    judge = PairJudge.load(args.model, settings, args.prompts, args.device, args.batch_size)
    out = Path(args.out)
    written = []
    if args.runs:
        text, written = write_judge(JudgeConfig(tuple(args.runs), args.model, out, progress=not args.quiet), judge)
        print(text)
    if args.validity_videos:
        command = f"eve-bench judge --model {args.model} --out {args.out} --validity-videos {args.validity_videos}"
        written += write_graded(judge, out, args.validity_videos, 0, command)
    for path in written:
        print(path)
    return 0


def _cmd_synth(args) -> int:
    from eve_bench.synth.preview import write_contact_sheet

    write_contact_sheet(args.out, seed=args.seed)
    print(args.out)
    return 0


COMMANDS = {"run": _cmd_run, "eval": _cmd_eval, "list": _cmd_list, "leaderboard": _cmd_leaderboard,
            "paper-tables": _cmd_paper_tables, "validity": _cmd_validity,
            "convert-viclip": _cmd_convert_viclip, "human": _cmd_human, "judge": _cmd_judge, "synth": _cmd_synth}


def main(argv: list[str] | None = None) -> int:
    from eve_bench.errors import USER_ERRORS, printable

    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except USER_ERRORS as e:
        print(f"eve-bench: error: {printable(str(e))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
