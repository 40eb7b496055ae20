import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from eve_bench.cli import main, parse_kv_args
from eve_bench.errors import SuiteError, UnknownNameError
from eve_bench.models import load_model
from eve_bench.run.config import RunConfig, SuiteSelection
from eve_bench.run.runner import evaluate_submission, run
from eve_bench.suites import load_suite
from fixtures import make_tgve_zip_layout

TESTS = Path(__file__).parent
VIDEOS = {"DAVIS_480p": ["alpha", "beta"], "youtube_480p": ["gamma"], "videvo_480p": ["delta", "eps"]}


@pytest.fixture
def tgve_zip(tmp_path) -> Path:
    return make_tgve_zip_layout(tmp_path / "tgve", VIDEOS)


def _run(tmp_path, data, model="identity", **kw) -> dict:
    sel = SuiteSelection(suite="tgve", data=str(data), **kw.pop("selection", {}))
    kw.setdefault("metrics", ["source_mae"])  # weight-free, so it runs on any machine
    return run(RunConfig(model=model, out=tmp_path / "run", selection=sel, progress=False, **kw))


# --- suites -----------------------------------------------------------------------------------


def test_tgve_csv_layout_groups_and_prompts(tgve_zip):
    suite = load_suite("tgve", str(tgve_zip))
    assert len(suite.samples) == 5 * 4
    by_key = {s.key: s for s in suite.samples}
    s = by_key["youtube_480p/gamma/background"]
    assert s.source_caption == "A gamma video." and s.target_caption == "A gamma on the moon."
    assert s.instruction is None  # no InsV2V instruction file in this layout
    assert s.load_source().frames.shape == (6, 32, 32, 3)


def test_tgve_shared_configs_and_instructions(shared_tgve):
    suite = load_suite("tgve", str(shared_tgve))
    assert len(suite.samples) == 76 * 4
    s = next(s for s in suite.samples if s.video_id == "gold-fish" and s.task == "object")
    assert s.target_caption == "Several sharks swim in a tank."
    assert s.instruction == "change goldfish to sharks."


def test_missing_video_is_a_clear_error_listing_it(tmp_path):
    data = make_tgve_zip_layout(tmp_path / "tgve", VIDEOS, missing=("beta",))
    with pytest.raises(SuiteError, match=r"beta\.mp4.*\n.*--skip-missing|beta\.mp4") as err:
        _run(tmp_path, data)
    assert "1 source video(s) missing" in str(err.value) and "--skip-missing" in str(err.value)
    summary = _run(tmp_path, data, selection={"skip_missing": True})
    assert summary["n_missing"] == 4 and summary["n_samples"] == 16


def test_corrupt_mp4_is_named(tgve_zip, tmp_path):
    bad = tgve_zip / "DAVIS_480p" / "480p_videos" / "alpha.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 10)
    with pytest.raises(SuiteError, match="alpha.mp4"):
        _run(tmp_path, tgve_zip)


def test_unknown_task_is_rejected(tgve_zip, tmp_path):
    with pytest.raises(SuiteError, match="unknown task.*colour.*style, object, background, multiple"):
        _run(tmp_path, tgve_zip, selection={"tasks": ["style", "colour"]})


def _tgve_plus_parquet(path: Path, **renames) -> Path:
    rows = []
    for video, group in [("alpha", "DAVIS_480p"), ("gamma", "youtube_480p")]:
        for task in ["Style", "Object Removal", "Add", "texture", "Background", "multiple", "object"]:
            rows.append({
                "instruction": f"do {task} to {video}",
                "input_caption": f"a {video}",
                "output_caption": f"a {video} after {task}",
                "edit_type": task,
                "video_path": f"{group}/480p_videos/{video}.mp4",
            })
    rows.append(dict(rows[0], instruction="a second style prompt"))
    df = pd.DataFrame(rows).rename(columns=renames)
    df.to_parquet(path)
    return path


def test_tgve_plus_discovers_columns_and_tasks(tgve_zip):
    _tgve_plus_parquet(tgve_zip / "tgve_plus.parquet")
    suite = load_suite("tgve-plus", str(tgve_zip))
    assert len(suite.tasks) == 7 and len(suite.samples) == 15
    tasks = {s.task for s in suite.samples}
    assert tasks == {"style", "removal", "addition", "texture", "background", "multiple", "object"}
    assert [s.edit_id for s in suite.samples if s.video_id == "alpha" and s.task == "style"] == ["style", "style_1"]
    assert suite.samples[0].load_source().num_frames == 6


def test_tgve_plus_explicit_mapping_and_unmappable_schema(tgve_zip):
    _tgve_plus_parquet(tgve_zip / "tgve_plus.parquet", instruction="what_to_do", output_caption="after")
    with pytest.raises(SuiteError, match=r"cannot map TGVE\+ field\(s\) instruction, target_caption.*what_to_do.*instruction_column="):
        load_suite("tgve-plus", str(tgve_zip))
    suite = load_suite("tgve-plus", str(tgve_zip), instruction_column="what_to_do", target_caption_column="after")
    assert suite.samples[0].instruction == "do Style to alpha"


def test_tgve_plus_unknown_task_value_names_field(tgve_zip):
    df = pd.read_parquet(_tgve_plus_parquet(tgve_zip / "p.parquet"))
    df.loc[3, "edit_type"] = "relighting"
    df.to_parquet(tgve_zip / "p.parquet")
    with pytest.raises(SuiteError, match="row 3: unknown task 'relighting' in column 'edit_type'"):
        load_suite("tgve-plus", str(tgve_zip))


# --- models -----------------------------------------------------------------------------------


def test_model_specs_resolve(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    assert type(load_model("identity")).__name__ == "IdentityEditor"
    assert load_model("editors_for_tests", {"strength": 3}).strength == 3
    assert type(load_model("editors_for_tests:FlakyEditor")).__name__ == "FlakyEditor"
    with pytest.raises(UnknownNameError, match="Did you mean identity"):
        from eve_bench.models import MODELS

        MODELS.get("identiy")
    with pytest.raises(UnknownNameError, match="not importable"):
        load_model("no_such_pkg.editor")


def test_entry_point_models_are_found(monkeypatch):
    import importlib.metadata as md

    from eve_bench.models import MODELS

    ep = md.EntryPoint(name="plugin-noisy", value="editors_for_tests:NoisyEditor", group="eve_bench.models")
    real = md.entry_points
    monkeypatch.setattr("eve_bench.registry.entry_points", lambda group: [ep] if group == "eve_bench.models" else real(group=group))
    monkeypatch.setattr(MODELS, "_plugins_loaded", False)
    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    monkeypatch.syspath_prepend(str(TESTS))
    assert "plugin-noisy" in MODELS.names()
    assert type(load_model("plugin-noisy")).__name__ == "NoisyEditor"


def test_parse_kv_args():
    assert parse_kv_args("steps=20, guidance=7.5,name=foo,flag=true,none=None") == {
        "steps": 20, "guidance": 7.5, "name": "foo", "flag": True, "none": None}
    with pytest.raises(ValueError, match="key=value"):
        parse_kv_args("steps")


# --- runner -----------------------------------------------------------------------------------


def test_run_then_rerun_is_cached_and_eval_agrees(tgve_zip, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    import editors_for_tests

    editors_for_tests.NoisyEditor.calls = 0
    first = _run(tmp_path, tgve_zip, model="editors_for_tests", selection={"limit": 1})
    assert first["n_samples"] == 4 and first["n_failed"] == 0 and editors_for_tests.NoisyEditor.calls == 4
    out = tmp_path / "run"
    assert (out / "submission/DAVIS_480p/alpha/style/00005.jpg").exists()
    assert (out / "previews/DAVIS_480p/alpha/style.mp4").stat().st_size > 0
    assert len((out / "samples.jsonl").read_text().splitlines()) == 4
    again = _run(tmp_path, tgve_zip, model="editors_for_tests", selection={"limit": 1})
    assert again["n_cached"] == 4 and again["n_model_calls"] == 0 and editors_for_tests.NoisyEditor.calls == 4
    assert again["metrics"] == first["metrics"] and first["metrics"]["overall"]["source_mae"] > 5
    # Other model args are another experiment: the folder refuses them unless told to overwrite.
    third = _run(tmp_path, tgve_zip, model="editors_for_tests", model_args={"strength": 10}, selection={"limit": 1}, overwrite=True)
    assert third["n_cached"] == 0 and third["metrics"]["overall"]["source_mae"] < first["metrics"]["overall"]["source_mae"]
    ev = evaluate_submission(out / "submission", tmp_path / "ev", SuiteSelection("tgve", str(tgve_zip), limit=1),
                             metrics=["source_mae"], progress=False)
    assert ev["metrics"] == third["metrics"] and ev["n_failed"] == 0


def test_failures_are_isolated_listed_and_counted(tgve_zip, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    summary = _run(tmp_path, tgve_zip, model="editors_for_tests:FlakyEditor")
    assert summary["n_samples"] == 20
    errors = {f["key"]: f["error"] for f in summary["failures"]}
    assert summary["n_failed"] == len(errors) == 3 + 6  # calls 1, 2, 4 broken; every third raises
    assert sum("boom on call" in e for e in errors.values()) == 6
    assert any("expected (6, 32, 32, 3)" in e for e in errors.values())
    assert any("NaN" in e for e in errors.values())
    assert summary["metric_counts"]["source_mae"] == summary["n_ok"] == 11
    lines = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert sum(x["status"] == "failed" for x in lines) == 9
    # Failed samples leave no output folder that could pass as finished.
    for key in errors:
        assert not (tmp_path / "run" / "submission" / key).exists()


def test_fail_fast_raises(tgve_zip, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    with pytest.raises(ValueError, match="expected"):
        _run(tmp_path, tgve_zip, model="editors_for_tests:FlakyEditor", fail_fast=True)


def test_sigkill_midway_then_resume_matches_uninterrupted(tgve_zip, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(TESTS) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    base = [sys.executable, "-m", "eve_bench.cli", "run", "--model", "editors_for_tests", "--suite", "tgve",
            "--data", str(tgve_zip), "--quiet", "--no-previews", "--metrics", "source_mae,warp_error"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(base + ["--out", str(killed), "--model-args", "sleep=0.25"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(list((killed / "records").rglob("*.json"))) < 6:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list((killed / "records").rglob("*.json")))
    assert 6 <= done < 20, "the run must be killed mid-way"
    assert not (killed / "summary.json").exists()
    subprocess.run(base + ["--out", str(killed), "--model-args", "sleep=0.25"], env=env, check=True, capture_output=True)
    clean = tmp_path / "clean"
    subprocess.run(base + ["--out", str(clean), "--model-args", "sleep=0.25"], env=env, check=True, capture_output=True)
    resumed = json.loads((killed / "summary.json").read_text())
    reference = json.loads((clean / "summary.json").read_text())
    assert resumed["metrics"] == reference["metrics"]
    assert resumed["n_cached"] >= done - 1 and resumed["n_samples"] == 20 and resumed["n_failed"] == 0
    assert not list(killed.rglob("*.tmp")) and not list(killed.rglob(".*.tmp*"))


# --- CLI and leaderboard ----------------------------------------------------------------------


def test_cli_shared_tgve_identity_acceptance(shared_tgve, tmp_path, capsys):
    args = ["run", "--model", "identity", "--suite", "tgve", "--data", str(shared_tgve), "--skip-missing",
            "--limit", "2", "--out", str(tmp_path / "r"), "--quiet"]
    assert main(args) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["n_samples"] == 8 and summary["n_failed"] == 0 and summary["n_missing"] > 0
    frames = sorted((tmp_path / "r" / "submission" / "DAVIS_480p").glob("*/style/*.jpg"))
    assert len(frames) == 2 * 32
    assert len(list((tmp_path / "r" / "previews").rglob("*.mp4"))) == 8
    assert main(args) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["n_cached"] == 8 and summary["n_model_calls"] == 0


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["run", "--model", "identity", "--suite", "tgve", "--out", str(tmp_path)]) == 2
    assert "needs --data PATH" in capsys.readouterr().err
    assert main(["run", "--model", "identiy", "--suite", "tgve", "--data", str(tmp_path)]) == 2


def test_leaderboard_from_runs(tgve_zip, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    sel = SuiteSelection(suite="tgve", data=str(tgve_zip), limit=1)
    for model, out in [("identity", "a"), ("editors_for_tests", "b")]:
        run(RunConfig(model=model, out=tmp_path / out, selection=sel, metrics=["source_mae"], progress=False))
    assert main(["leaderboard", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "lb")]) == 0
    md = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert "identity (reference)" in md and "editors_for_tests" in md and "## source_mae per task" in md
    csv = pd.read_csv(tmp_path / "lb" / "leaderboard.csv")
    assert list(csv["model"]) == ["identity", "editors_for_tests"] and csv["source_mae"][0] < csv["source_mae"][1]
    assert (tmp_path / "lb" / "leaderboard.png").stat().st_size > 1000


def test_default_metrics_without_weights_are_skipped_but_explicit_ones_fail(monkeypatch):
    from eve_bench.errors import MissingWeightsError
    from eve_bench.metrics import METRICS, MetricOptions
    from eve_bench.metrics.pixel import SourceMAE
    from eve_bench.run.scoring import requested_metrics
    from eve_bench.suites.base import Suite

    class NeedsWeights(SourceMAE):
        name = "needs_weights"

        def prepare(self):
            raise MissingWeightsError("weights X missing; pass --x-model")

    monkeypatch.setattr(METRICS, "_entries", dict(METRICS._entries, needs_weights=NeedsWeights))
    suite = Suite("s", "1", ("style",), (), default_metrics=("needs_weights", "source_mae"))
    metrics, skipped = requested_metrics(None, suite, MetricOptions())
    assert [m.name for m in metrics] == ["source_mae"] and "--x-model" in skipped["needs_weights"]
    with pytest.raises(MissingWeightsError, match="--x-model"):
        requested_metrics(["needs_weights"], suite, MetricOptions())


def test_suite_metric_defaults_fill_unset_options_only(monkeypatch):
    from eve_bench.metrics import MetricOptions
    from eve_bench.run.scoring import requested_metrics
    from eve_bench.suites.base import Suite

    seen = []
    monkeypatch.setattr("eve_bench.run.scoring.build_metrics", lambda names, options: seen.append(options) or [])
    suite = Suite("s", "1", ("style",), (), default_metrics=("clip_text", "clip_frame", "viclip_out"),
                  metric_defaults={"clip.model": "/suite/clip", "viclip.model": "/suite/viclip"})
    user = {"clip_text": {"model": "/user/clip"}}  # --metric-args clip_text.model=/user/clip
    requested_metrics(None, suite, MetricOptions(metric_args=user))
    assert seen[0].metric_args == {"clip_text": {"model": "/user/clip"}, "clip_frame": {"model": "/suite/clip"},
                                   "viclip_out": {"model": "/suite/viclip"}}


def test_weights_retrained_in_place_invalidate_the_cache(tgve_zip, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "model.safetensors").write_bytes(b"v1")
    args = {"weights": str(weights)}
    editor = "editors_for_tests:NoisyEditor"
    monkeypatch.setattr("editors_for_tests.NoisyEditor.__init__", lambda self, weights=None: setattr(self, "strength", 5) or setattr(self, "sleep", 0))
    assert _run(tmp_path, tgve_zip, model=editor, model_args=args, selection={"limit": 1})["n_cached"] == 0
    assert _run(tmp_path, tgve_zip, model=editor, model_args=args, selection={"limit": 1})["n_cached"] == 4
    (weights / "model.safetensors").write_bytes(b"v2 retrained")
    assert _run(tmp_path, tgve_zip, model=editor, model_args=args, selection={"limit": 1})["n_cached"] == 0


@pytest.mark.parametrize("device", ["cpu", "cpu:0"])  # cpu:0: a device torch takes that is not the default
def test_eval_records_its_device_as_run_does(tgve_zip, tmp_path, device):
    common = ["--suite", "tgve", "--data", str(tgve_zip), "--limit", "1", "--metrics", "source_mae", "--quiet",
              "--device", device]
    assert main(["run", "--model", "identity", "--out", str(tmp_path / "run"), *common]) == 0
    assert main(["eval", "--submission", str(tmp_path / "run" / "submission"), "--out", str(tmp_path / "ev"), *common]) == 0
    for folder in ("run", "ev"):
        assert json.loads((tmp_path / folder / "summary.json").read_text())["device"] == device


def test_device_reaches_factories_that_name_it_or_take_kwargs(monkeypatch):
    import types

    from eve_bench.models.identity import IdentityEditor

    seen = {}

    def named(device="cpu"):
        seen["named"] = device
        return IdentityEditor()

    def forwarding(**kwargs):  # as reference.baselines: the constructor behind it takes device
        seen["kwargs"] = kwargs.get("device")
        return IdentityEditor()

    def no_device(steps=1):
        return IdentityEditor()

    module = types.ModuleType("device_factories")
    module.named, module.forwarding, module.no_device = named, forwarding, no_device
    monkeypatch.setitem(sys.modules, "device_factories", module)
    load_model("device_factories:named", {}, device="cuda:1")
    load_model("device_factories:forwarding", {}, device="cuda:1")
    load_model("device_factories:no_device", {}, device="cuda:1")  # not passed: it would raise
    assert seen == {"named": "cuda:1", "kwargs": "cuda:1"}
    load_model("device_factories:forwarding", {"device": "cpu"}, device="cuda:1")
    assert seen["kwargs"] == "cpu"  # the model args win


def test_a_weighted_metric_is_one_class_and_its_registration(tmp_path, monkeypatch, capsys):
    """A third-party metric with weights: its own options, checked and listed, with no harness edit."""
    from eve_bench.errors import MissingWeightsError
    from eve_bench.metrics import METRICS, Metric

    class MeanBrightness(Metric):
        name = "mean_brightness"
        higher_is_better = None
        definition = "mean pixel value of the edited video times a weight read from a file"
        weights = "a text file holding one number (--metric-args mean_brightness.model=FILE)"
        own_options = {"model": "the weight file"}

        def prepare(self):
            path = self.option("model")
            if not path or not Path(path).is_file():
                raise MissingWeightsError(f"mean_brightness: no weight file {path!r}")
            self.weight = float(Path(path).read_text())

        def score(self, item):
            return self.weight * float(item.edited.frames.mean())

    monkeypatch.setattr(METRICS, "_entries", dict(METRICS._entries, mean_brightness=MeanBrightness))
    (tmp_path / "w.txt").write_text("2")
    base = ["run", "--model", "identity", "--limit", "1", "--tasks", "style", "--quiet", "--no-previews",
            "--metrics", "mean_brightness"]
    assert main(base + ["--out", str(tmp_path / "a"), "--metric-args", f"mean_brightness.model={tmp_path / 'w.txt'}"]) == 0
    record = json.loads((tmp_path / "a" / "samples.jsonl").read_text().splitlines()[0])
    assert record["metrics"]["mean_brightness"] > 0
    assert main(base + ["--out", str(tmp_path / "b"), "--metric-args", "mean_brightness.weights=x"]) == 2
    assert "mean_brightness has no option weights (its options: model)" in capsys.readouterr().err
    assert main(["list", "metrics"]) == 0
    assert "--metric-args mean_brightness.model=...  the weight file" in capsys.readouterr().out


def test_reference_models_are_entry_point_plugins():
    """eve-bench names no reference model in code; pyproject declares them as any package would."""
    import tomllib

    from eve_bench.registry import import_attr

    declared = tomllib.loads((TESTS.parent / "pyproject.toml").read_text())["project"]["entry-points"]["eve_bench.models"]
    assert set(declared) == {"per_frame_edit", "video_sdedit", "plug_and_play", "eve"}
    assert all(callable(import_attr(spec)) for spec in declared.values())
    assert "reference." not in (TESTS.parent / "eve_bench" / "models" / "__init__.py").read_text().split("DESCRIPTIONS")[0]


def test_every_command_prints_its_help(capsys):
    """`--help` of eve-bench and of each command and action (a bare % in a help string broke the
    top-level one: argparse formats help strings with %)."""
    commands = [[], ["run"], ["eval"], ["list"], ["leaderboard"], ["paper-tables"], ["validity"],
                ["convert-viclip"], ["human"], ["human", "serve"], ["human", "report"], ["judge"],
                ["synth"], ["synth", "preview"]]
    for command in commands:
        with pytest.raises(SystemExit) as e:
            main([*command, "--help"])
        assert e.value.code == 0, command
        assert "usage: eve-bench" in capsys.readouterr().out


def test_a_run_on_another_synth_draw_rebuilds_its_own_samples(tmp_path):
    """The summary records --suite-args, so reports rebuild the draw the run saw: the tuning draw's
    sample keys are the default draw's, and only the recorded arguments tell them apart."""
    from eve_bench.reports.gallery import suite_samples

    sel = SuiteSelection(suite="synth", suite_args={"seed": 1}, tasks=["style"], limit=1)
    summary = run(RunConfig(model="identity", out=tmp_path / "run", selection=sel, metrics=["source_mae"],
                            progress=False, previews=False))
    assert summary["suite_args"] == {"seed": 1}
    samples = suite_samples(summary)
    tuning = load_suite("synth", None, seed=1).samples[0]
    default = load_suite("synth", None).samples[0]
    assert tuning.key == default.key and list(samples) == [s.key for s in load_suite("synth", None, seed=1).samples]
    assert (samples[tuning.key].load_source().frames == tuning.load_source().frames).all()
    assert not (tuning.load_source().frames == default.load_source().frames).all()
    assert suite_samples({**summary, "suite_args": {}}) == {}  # another draw's samples are never served
