"""The VLM judge on a tiny random-init Qwen2.5-VL saved in the hub's format (tests/tiny_models.py):
its scores, their determinism and cache ids, the pairwise `judge` command, and missing weights.
The weights are random, so no value means anything; what is checked is everything around them."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from eve_bench.cli import main
from eve_bench.encoders.cache import EmbeddingCache
from eve_bench.encoders.vlm import VlmJudge, VlmSettings, fit_pixels, uniform_indices
from eve_bench.encoders.vlm_prompts import PROMPTS_DIR, PromptSet
from eve_bench.errors import WeightsError
from eve_bench.human.judge import PairJudge, graded_checks
from eve_bench.metrics import MetricInput, MetricOptions, build_metrics
from eve_bench.questions import QUESTIONS
from eve_bench.reports.gt_preference import KNOWN_ORDER, KNOWN_TIES, Preference
from eve_bench.run.config import RunConfig, SuiteSelection
from eve_bench.run.results import load_records
from eve_bench.run.runner import run
from eve_bench.sample import Sample
from eve_bench.video import Video
from page_runs import synth_runs
from tiny_models import save_tiny_qwen2_5_vl

VLM = ("vlm_text", "vlm_structure", "vlm_quality")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory) -> Path:
    return save_tiny_qwen2_5_vl(tmp_path_factory.mktemp("vlm") / "tiny-qwen2.5-vl")


def _args(model: Path, **options) -> dict:
    return {name: {"model": str(model), "frames": 3, **options} for name in VLM}


def _items() -> list[MetricInput]:
    """Clips of odd sizes and lengths (one frame, fewer frames than sampled, more), with and
    without an instruction."""
    rng = np.random.default_rng(0)
    items = []
    for i, (t, h, w) in enumerate([(1, 40, 40), (2, 57, 90), (7, 90, 60)]):
        sample = Sample(f"v{i}", "g", "style", "make it red" if i else None, "a cat", f"a red cat {i}",
                        load_source=lambda: None, edit_id="style")
        items.append(MetricInput(sample, Video(rng.integers(0, 256, (t, h, w, 3), dtype=np.uint8), fps=8),
                                 Video(rng.integers(0, 256, (5, h, w, 3), dtype=np.uint8), fps=8)))
    return items


def _scores(model: Path, batch_size: int = 32, cache: bool = False) -> dict[str, list[float]]:
    options = MetricOptions(metric_args=_args(model), batch_size=batch_size,
                            embedding_cache=EmbeddingCache(enabled=cache))
    return {m.name: m.compute(_items()) for m in build_metrics(list(VLM), options)}


def test_scores_are_finite_in_1_to_5_and_deterministic(tiny_vlm):
    first = _scores(tiny_vlm)
    for name, values in first.items():
        assert len(values) == 3 and all(math.isfinite(v) and 1 <= v <= 5 for v in values), (name, values)
        assert len(set(values)) == 3, (name, values)  # the answers depend on what the model is shown
    assert first == _scores(tiny_vlm)  # fresh judges, nothing cached: the same values to the bit
    # One prompt per forward pass instead of all three: left padding must not change the answers.
    single = _scores(tiny_vlm, batch_size=1)
    for name in VLM:
        np.testing.assert_allclose(single[name], first[name], atol=1e-5)


def test_answers_are_cached_by_what_the_model_is_shown(tiny_vlm, tmp_path):
    prompts = PromptSet.load()
    asked = [prompts.rating(QUESTIONS[0], it.sample.instruction, it.sample.target_caption, it.source, it.edited)
             for it in _items()]

    def judge():
        return VlmJudge(tiny_vlm, VlmSettings(frames=3), cache=EmbeddingCache(tmp_path / "cache"))

    first = judge()
    values = first.ask(asked, prompts.rate.answers)
    assert first.forward_passes == 1 and np.allclose(values.sum(axis=1), 1)
    again = judge()
    np.testing.assert_array_equal(again.ask(asked, prompts.rate.answers), values)
    assert again.forward_passes == 0
    # The same frames at another frame rate are other time positions: asked afresh.
    slower = [replace(p, parts=tuple(replace(x, fps=x.fps / 2) if isinstance(x, Video) else x for x in p.parts))
              for p in asked]
    again.ask(slower, prompts.rate.answers)
    assert again.forward_passes == 1


def test_images_input_and_pixel_budget(tiny_vlm):
    frames = np.zeros((9, 480, 640, 3), np.uint8)
    assert uniform_indices(9, 3) == [0, 4, 8] and uniform_indices(2, 3) == [0, 1] and uniform_indices(9, 1) == [4]
    assert fit_pixels(frames, 224 * 224).shape[1:3] == (193, 258)  # aspect kept, at most 224 x 224 pixels
    options = MetricOptions(metric_args=_args(tiny_vlm, input="images"), embedding_cache=EmbeddingCache(enabled=False))
    values = build_metrics(["vlm_text"], options)[0].compute(_items())
    assert all(1 <= v <= 5 for v in values) and values != _scores(tiny_vlm)["vlm_text"]


def test_cached_under_an_id_of_weights_content_and_prompt_version(tiny_vlm, tmp_path):
    copy = shutil.copytree(tiny_vlm, tmp_path / "elsewhere")
    v2 = tmp_path / "vlm-v2.yaml"
    v2.write_text((PROMPTS_DIR / "vlm-v1.yaml").read_text().replace("version: v1", "version: v2")
                  .replace("Answer with one digit", "Reply with one digit"))

    def scored(model: Path, prompts: str | None = None):
        args = {n: {"model": str(model), "frames": 2, **({"prompts": prompts} if prompts else {})} for n in VLM}
        run(RunConfig(model="identity", out=tmp_path / "run", selection=SuiteSelection(suite="synth", limit=1, tasks=["style"]),
                      metrics=list(VLM), metric_options=MetricOptions(metric_args=args), progress=False))
        (record,) = load_records(tmp_path / "run")
        return record

    first = scored(tiny_vlm)
    ids = first.metric_ids
    assert all(f"vlm|{VlmJudge(tiny_vlm, VlmSettings(frames=2)).weights}|" in ids[n] for n in VLM)
    assert all("prompts v1:" in ids[n] and str(tiny_vlm) not in ids[n] for n in VLM)
    assert all(1 <= first.metrics[n] <= 5 for n in VLM)
    moved = scored(copy)  # the same files in another folder: the same id, the values kept
    assert moved.metric_ids == ids and moved.metrics == first.metrics
    changed = scored(tiny_vlm, str(v2))
    assert all(changed.metric_ids[n] != ids[n] and "prompts v2:" in changed.metric_ids[n] for n in VLM)
    assert PromptSet.load(str(v2)).id != PromptSet.load().id


def test_prompt_files_are_checked(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((PROMPTS_DIR / "vlm-v1.yaml").read_text().replace("{caption}", "{captoin}", 1))
    with pytest.raises(ValueError, match="captoin"):
        PromptSet.load(str(bad))
    with pytest.raises(FileNotFoundError, match="shipped versions: v1"):
        PromptSet.load("v9")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return synth_runs(tmp_path_factory.mktemp("judge-runs"))


def _judge(runs_given, model: Path, out: Path) -> dict:
    assert main(["judge", *map(str, runs_given), "--model", str(model), "--out", str(out), "--frames", "2", "--quiet"]) == 0
    return json.loads((out / "judge.json").read_text())


def test_judge_writes_the_human_table_and_swapping_mirrors_it(runs, tiny_vlm, tmp_path):
    identity, noisy = runs[0], runs[2]
    ab = _judge([identity, noisy], tiny_vlm, tmp_path / "ab")
    ba = _judge([noisy, identity], tiny_vlm, tmp_path / "ba")
    for name in ("judge.md", "judge.csv", "judge.json", "judgements.csv"):
        assert (tmp_path / "ab" / name).is_file()
    md = (tmp_path / "ab" / "judge.md").read_text()
    assert "Text (% A)" in md and "Agreement between the two orders" in md and "VLM-judged" in md
    csv_rows = (tmp_path / "ab" / "judge.csv").read_text().splitlines()
    assert len(csv_rows) == 2 and csv_rows[0].startswith("A,B,votes,samples,Text (% A)")
    assert len((tmp_path / "ab" / "judgements.csv").read_text().splitlines()) == 1 + 7 * 3 * 2
    (pair_ab,), (pair_ba,) = ab["pairs"], ba["pairs"]
    assert pair_ab["a"]["path"] == str(identity) and pair_ab["votes"] == 14  # 7 samples, both orders
    p_ab, p_ba = Preference.from_dict(pair_ab["preference"]), Preference.from_dict(pair_ba["preference"])
    assert p_ab.n_shared == 7
    assert p_ba == p_ab.mirrored()  # counts swapped, every share and interval p -> 100 - p
    assert [q.wins + q.ties + q.losses for q in p_ab.questions] == [14, 14, 14]
    assert [g["rater_pairs"] for g in pair_ab["agreement"]] == [7, 7, 7]
    # Some answers survive the swap of sides: not a judge that only sees the positions.
    assert any(g["percent"] > 0 for g in pair_ab["agreement"])


def test_judge_on_graded_outputs_covers_every_known_pair(tiny_vlm):
    judge = PairJudge.load(str(tiny_vlm), VlmSettings(frames=2), None, "cpu", 32)
    checks = graded_checks(judge, n_videos=1)
    expected = [(q, b, w) for known in (KNOWN_ORDER, KNOWN_TIES) for q, pairs in known.items() for b, w in pairs]
    assert [(c.question, c.better, c.worse) for c in checks] == expected
    assert all(c.result.n == 14 and c.result.share.n == 7 for c in checks)  # 7 samples x 2 orders, one question


def test_a_pickle_only_folder_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x02")
    options = MetricOptions(metric_args={"vlm_text": {"model": str(tmp_path)}})
    with pytest.raises(WeightsError, match="pickled"):
        build_metrics(["vlm_text"], options)[0].prepare()


@pytest.mark.parametrize("command", [
    ["run", "--model", "identity", "--metrics", "vlm_quality", "--limit", "1", "--out", "{tmp}/run"],
    ["run", "--model", "identity", "--metrics", "vlm_text", "--vlm-model", "{tmp}/absent", "--out", "{tmp}/run"],
    ["judge", "{tmp}/a", "{tmp}/b", "--model", "Qwen/Qwen2.5-VL-3B-Instruct", "--out", "{tmp}/judge"],
])
def test_missing_weights_one_line_error_in_under_5_seconds(command, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "empty-hf-home"), "OMP_NUM_THREADS": "1"}
    env.pop("HF_HUB_CACHE", None)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "eve_bench", *(c.replace("{tmp}", str(tmp_path)) for c in command)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    seconds = time.perf_counter() - start
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("eve-bench: error:") and "not available locally" in line
    assert "hf download Qwen/Qwen2.5-VL-3B-Instruct" in line and "HF_HUB_OFFLINE=1" in line
    assert seconds < 5, seconds


def test_validity_runs_the_vlm_metrics_only_when_their_weights_are_given(tiny_vlm, monkeypatch):
    import eve_bench.reports.validity as validity

    monkeypatch.setattr(validity, "VARIANTS", validity.VARIANTS[:2])
    monkeypatch.setattr(validity.METRICS, "names", lambda: ["source_mae", *VLM])
    rows, skipped = validity.score_variants(n_videos=1)
    assert set(skipped) == set(VLM) and "--metric-args vlm_text.model=DIR" in skipped["vlm_text"]
    assert not set(VLM) & set(rows[0])
    given = MetricOptions(metric_args={n: {"model": str(tiny_vlm), "frames": 2} for n in VLM})
    rows, skipped = validity.score_variants(n_videos=1, options=given)
    assert not skipped and len(rows) == 14 and all(1 <= r[n] <= 5 for r in rows for n in VLM)
    md = validity.render_markdown(validity.correlations(rows), rows, skipped, "eve-bench validity --vlm-model DIR")
    assert "| vlm_text |" in md and validity.VLM_READING in md


def test_paper_tables_show_vlm_judged_columns(runs, tiny_vlm, tmp_path):
    from eve_bench.reports.paper_tables import PaperTablesConfig, preference_cells, write_paper_tables
    from eve_bench.tables import md_cell

    identity, noisy = runs[0], runs[2]
    # Judged with EVE's run second: the table mirrors it into "% preferring EVE".
    pair = _judge([noisy, identity], tiny_vlm, tmp_path / "judge")["pairs"][0]
    write_paper_tables(PaperTablesConfig(out=tmp_path / "tables", eve=identity, synth=[noisy],
                                         vlm_judged=[tmp_path / "judge" / "judge.json"]))
    md = (tmp_path / "tables" / "table1-synth.md").read_text()
    assert "| VLM Text | VLM Struct. | VLM Quality | VLM Avg. |" in md and "VLM-judged, not human" in md
    row = next(line for line in md.splitlines() if line.startswith(f"| {noisy.name} |"))
    cells = preference_cells(Preference.from_dict(pair["preference"]).mirrored())
    assert row.endswith(" | ".join(md_cell(c) for c in cells) + " |")  # the last four columns
    assert "| VLM Avg. |" in (tmp_path / "tables" / "table2-synth.md").read_text()
    human = tmp_path / "human_eval.json"  # the same form, from people: refused as VLM-judged
    human.write_text(json.dumps({"db": "votes.sqlite", "pairs": [pair]}))
    with pytest.raises(ValueError, match="not a judge.json"):
        write_paper_tables(PaperTablesConfig(out=tmp_path / "tables", vlm_judged=[human]))
