"""Distributed evaluation: two gloo ranks on CPU give the single process's records and summary,
a run resumes at another world size, and rank 0's lock keeps the folder's guarantees."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eve_bench.run.distributed import Ranks
from eve_bench.run.folder import RunFolder

REPO = Path(__file__).resolve().parents[1]
ARGS = ["run", "--model", "identity", "--metrics", "source_mae,gt_psnr_in,gt_psnr_in_set,gt_ssim_out,warp_error", "--no-previews", "--quiet"]
# Fields that describe the process rather than the results (torchrun loads torch, which a single
# process scoring weight-free metrics never does: torch_threads is null there).
RUN_FIELDS = {"wall_time_s", "started_at", "world_size", "torch_threads"}


def _eve_bench(out: Path, *extra: str, nproc: int = 1) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]), OMP_NUM_THREADS="1")
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"] if nproc > 1 else [sys.executable]
    return subprocess.run([*launcher, "-m", "eve_bench", *ARGS, "--out", str(out), *extra], env=env,
                          capture_output=True, text=True, timeout=300)


def _results(out: Path) -> tuple[list[dict], dict]:
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    for r in records:
        r.pop("timings")
    summary = {k: v for k, v in json.loads((out / "summary.json").read_text()).items() if k not in RUN_FIELDS}
    return records, summary


@pytest.fixture(scope="module")
def single_and_two_ranks(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    single, two = _eve_bench(root / "single", "--limit", "2"), _eve_bench(root / "two", "--limit", "2", nproc=2)
    assert single.returncode == 0, single.stderr
    assert two.returncode == 0, two.stderr
    return root


def test_two_gloo_ranks_give_the_single_process_results(single_and_two_ranks):
    records, summary = _results(single_and_two_ranks / "single")
    assert len(records) == 14 and summary["n_model_calls"] == 14
    assert _results(single_and_two_ranks / "two") == (records, summary)
    assert json.loads((single_and_two_ranks / "two" / "summary.json").read_text())["world_size"] == 2


def test_a_two_rank_run_resumes_with_one_rank(single_and_two_ranks, tmp_path):
    import shutil

    out = tmp_path / "resumed"
    shutil.copytree(single_and_two_ranks / "two", out)
    # As if killed: three samples never finished, and the summary was never written.
    gone = sorted((out / "records").rglob("*.json"))[:3]
    for path in gone:
        path.unlink()
    (out / "summary.json").unlink()
    result = _eve_bench(out, "--limit", "2")
    assert result.returncode == 0, result.stderr
    records, summary = _results(out)
    expected_records, expected = _results(single_and_two_ranks / "single")
    assert summary["n_model_calls"] == 3 and summary["n_cached"] == 11
    assert [dict(r, cached=False) for r in records] == expected_records
    assert {k: v for k, v in summary.items() if k not in ("n_model_calls", "n_cached")} == \
        {k: v for k, v in expected.items() if k not in ("n_model_calls", "n_cached")}


def test_a_folder_in_use_stops_every_rank(tmp_path):
    folder = RunFolder(tmp_path / "busy")
    with folder.locked():
        result = _eve_bench(folder.root, "--limit", "1", nproc=2)
    assert result.returncode != 0
    assert "is in use by another eve-bench process" in result.stderr
    assert "rank 0 could not take --out" in result.stderr  # rank 1 stopped too, naming why
    assert not (folder.root / "records").exists()


def test_ranks_from_the_launcher_environment(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    ranks = Ranks.from_env()
    assert (ranks.rank, ranks.world_size, ranks.local_rank, ranks.is_main) == (3, 4, 1, False)
    assert ranks.device("cuda") == "cuda:1" and ranks.device("cuda:0") == "cuda:0" and ranks.device("cpu") == "cpu"
    assert ranks.shard(list(range(10))) == [3, 7]
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert Ranks.from_env() == Ranks()
