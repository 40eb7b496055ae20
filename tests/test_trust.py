"""Results you can trust (issue 28): run integrity under faults, and identities that reproduce
across machines. One test per class of fault (the six that failed an audit, then the partial ones),
then the identities: weights by content, pinned cache keys, the environment a summary records."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eve_bench.cli import main
from eve_bench.errors import SuiteError
from eve_bench.run.config import RunConfig, SuiteSelection
from eve_bench.run.results import SampleRecord
from eve_bench.run.runner import evaluate_submission, run
from eve_bench.sample import TGVE_TASKS, Sample
from eve_bench.suites import Suite, load_suite
from eve_bench.video import frames_digest, read_video
from fixtures import make_tgve_zip_layout

TESTS = Path(__file__).parent
REPO = TESTS.parent
VIDEOS = {"DAVIS_480p": ["alpha", "beta"], "youtube_480p": ["gamma"]}
CSV = "LOVEU-TGVE-2023_Dataset.csv"


@pytest.fixture
def tgve_zip(tmp_path) -> Path:
    return make_tgve_zip_layout(tmp_path / "tgve", VIDEOS)


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(REPO), os.environ.get("PYTHONPATH", "")]))


def _run_args(tgve: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--suite", "tgve", "--data", str(tgve), "--out", str(out), "--quiet", "--metrics", "source_mae", *extra]


def _eval_args(submission: Path, tgve: Path, out: Path, *extra: str) -> list[str]:
    return ["eval", "--submission", str(submission), "--suite", "tgve", "--data", str(tgve), "--out", str(out), "--quiet",
            "--metrics", "source_mae", *extra]


def _error(capsys, args: list[str]) -> str:
    """The one line `eve-bench ARGS` prints on stderr, having exited 2."""
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("eve-bench: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def _records(run_dir: Path) -> dict[str, dict]:
    return {r["key"]: r for r in map(json.loads, (run_dir / "samples.jsonl").read_text().splitlines())}


# --- Fail 1: a re-run killed half-way never reads as finished ------------------------------------

KILLED_AFTER_FIRST_PREVIEW = """
import os, signal, sys
import eve_bench.run.generation as generation
write_mp4 = generation.write_mp4

def write_then_die(video, path, **kw):
    write_mp4(video, path, **kw)
    os.kill(os.getpid(), signal.SIGKILL)

generation.write_mp4 = write_then_die
from eve_bench.cli import main
main({args!r})
"""


def test_a_rerun_killed_half_way_never_reads_as_finished(tgve_zip, tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(TESTS))
    weights = tmp_path / "weights.txt"
    weights.write_text("60")
    out = tmp_path / "run"
    args = _run_args(tgve_zip, out, "--model", "editors_for_tests:WeightedEditor", "--model-args", f"weights={weights}")
    assert main(args) == 0
    weights.write_text("-60")  # retrained in place: every sample runs again, and this run is killed
    proc = subprocess.run([sys.executable, "-c", KILLED_AFTER_FIRST_PREVIEW.format(args=args)], env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not (out / "summary.json").exists() and not (out / "samples.jsonl").exists()
    assert "no summary.json" in _error(capsys, ["leaderboard", str(out), "--out", str(tmp_path / "lb")])
    # Every record that vouches for a sample vouches for the frames and the preview on disk.
    ok = [r for r in map(SampleRecord.load, (out / "records").rglob("*.json")) if r.status == "ok"]
    assert len(ok) == 11
    for r in ok:
        frames = read_video(out / r.output)
        assert frames_digest(out / r.output) == r.frames_sha256, r.key
        preview = read_video(out / r.preview).frames.astype(int)
        assert np.abs(preview - frames.frames).mean() < 10, r.key  # its output, not the other weights'


# --- Fail 2: duplicate samples ------------------------------------------------------------------


def test_duplicate_samples_are_refused_before_anything_runs(tgve_zip, tmp_path, capsys):
    csv = tgve_zip / CSV
    lines = csv.read_text().splitlines(keepends=True)
    csv.write_text("".join(lines[:4] + [lines[2]] + lines[4:]))  # alpha again, after beta
    err = _error(capsys, _run_args(tgve_zip, tmp_path / "run", "--model", "identity"))
    assert f"{csv}, lines 3 and 5: video 'alpha' of DAVIS_480p is listed twice" in err
    assert not (tmp_path / "run").exists()
    # Any suite, plug-ins included.
    sample = Sample(video_id="v", group="g", task="style", instruction=None, source_caption="a", target_caption="b",
                    load_source=lambda: None)
    with pytest.raises(SuiteError, match=r"1 sample key\(s\) occur more than once \(g/v/style\)"):
        Suite(name="plug-in", version="1", tasks=("style",), samples=(sample, sample))


# --- Fail 3: special files ----------------------------------------------------------------------


def test_no_special_file_is_ever_opened(tgve_zip, tmp_path):
    out = tmp_path / "run"
    assert main(_run_args(tgve_zip, out, "--model", "identity", "--limit", "1", "--no-previews")) == 0
    video = out / "submission" / "DAVIS_480p" / "alpha"
    (video / "style" / "00002.jpg").unlink()
    os.mkfifo(video / "style" / "00002.jpg")  # a frame
    shutil.rmtree(video / "object")
    os.mkfifo(video / "object")  # a sample's folder
    ev = subprocess.run([sys.executable, "-m", "eve_bench", *_eval_args(out / "submission", tgve_zip, tmp_path / "ev", "--limit", "1")],
                        env=_env(), capture_output=True, text=True, timeout=120)
    assert ev.returncode == 1, ev.stderr
    errors = {k: r["error"] for k, r in _records(tmp_path / "ev").items() if r["status"] == "failed"}
    assert set(errors) == {"DAVIS_480p/alpha/style", "DAVIS_480p/alpha/object"}
    assert all("not a regular file" in e for e in errors.values()), errors
    # A data video is bad data, named.
    source = tgve_zip / "DAVIS_480p" / "480p_videos" / "beta.mp4"
    source.unlink()
    os.mkfifo(source)
    again = subprocess.run([sys.executable, "-m", "eve_bench", *_run_args(tgve_zip, tmp_path / "run2", "--model", "identity")],
                           env=_env(), capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and f"{source}: not a regular file" in again.stderr, again.stderr


# --- Fail 4: bad data is not the model's failure -------------------------------------------------


def test_instructions_of_the_wrong_shape_are_data_errors_naming_the_file(tgve_zip, tmp_path, capsys):
    path = tgve_zip / "loveu_tgve_edit_prompt_dict.json"
    good = {v: {f"edit_{t}": f"make the {v} {t}" for t in TGVE_TASKS} for vs in VIDEOS.values() for v in vs}
    cases = [({**good, "alpha": {**good["alpha"], "edit_style": 42}}, "entry 'alpha': 'edit_style' is 42 (int), not text"),
             ([good], "a JSON list; expected an object"),
             ({**good, "beta": "make it red"}, "entry 'beta' is 'make it red'; expected an object")]
    for data, why in cases:
        path.write_text(json.dumps(data))
        err = _error(capsys, _run_args(tgve_zip, tmp_path / "run", "--model", "identity"))
        assert f"{path}" in err and why in err, err
        assert not (tmp_path / "run").exists()
    path.write_text(json.dumps(good))
    assert load_suite("tgve", str(tgve_zip)).samples[0].instruction == "make the alpha style"
    with pytest.raises(ValueError, match=r"sample g/v/style: instruction is 42 \(int\), not text"):
        Sample(video_id="v", group="g", task="style", instruction=42, source_caption="a", target_caption="b",
               load_source=lambda: None)


# --- Fail 5: long arguments ---------------------------------------------------------------------


def test_a_model_argument_longer_than_a_file_name_works(tgve_zip, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    note = "keep the dog and turn the sky into a slow orange sunset " * 6
    assert len(note.encode()) > 255
    assert main(_run_args(tgve_zip, tmp_path / "run", "--model", "editors_for_tests", "--limit", "1",
                          "--model-args", f"note={note}")) == 0


# --- Fail 6: write failures before the run starts ------------------------------------------------


def test_write_failures_before_the_run_starts_are_one_line_errors(tgve_zip, tmp_path, monkeypatch, capsys):
    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr("eve_bench.run.folder.atomic_write_text", disk_full)
        err = _error(capsys, _run_args(tgve_zip, tmp_path / "a", "--model", "identity"))
        assert f"cannot write {tmp_path / 'a' / 'run.json'}: No space left on device" in err

    class FullFile:
        def __init__(self, f):
            self.f = f

        def __getattr__(self, name):
            return disk_full if name in ("write", "flush") else getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    with monkeypatch.context() as m:
        m.setattr("eve_bench.run.folder.open", lambda path, mode: FullFile(open(path, mode)), raising=False)
        err = _error(capsys, _run_args(tgve_zip, tmp_path / "b", "--model", "identity"))
        assert f"cannot write {tmp_path / 'b' / '.lock'}: No space left on device" in err
    # An existing run folder made immutable (root can still be refused by the file system).
    out = tmp_path / "frozen"
    assert main(_run_args(tgve_zip, out, "--model", "identity", "--limit", "1")) == 0
    if subprocess.run(["chattr", "+i", str(out)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        err = _error(capsys, _run_args(tgve_zip, out, "--model", "identity", "--limit", "1"))
        assert f"cannot write {out / 'run.json'}: Operation not permitted" in err
    finally:
        subprocess.run(["chattr", "-i", str(out)], check=True)


# --- Partials: memory, symlinks, the rating server, self-deleting eval, full disk, reports -------


def _png_header(path: Path, width: int, height: int) -> None:
    """A 1 KB PNG that says it is width x height: decoding it would allocate the whole image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b""))


def test_outputs_are_checked_against_the_source_before_any_frame_is_decoded(tgve_zip, tmp_path, monkeypatch):
    from PIL import Image

    out = tmp_path / "run"
    assert main(_run_args(tgve_zip, out, "--model", "identity", "--tasks", "style", "--no-previews")) == 0
    submission = out / "submission"
    alpha, beta = submission / "DAVIS_480p" / "alpha" / "style", submission / "DAVIS_480p" / "beta" / "style"
    for i in range(6, 400):  # 400 frames against a 6-frame source
        shutil.copyfile(alpha / "00000.jpg", alpha / f"{i:05d}.jpg")
    (beta / "00005.jpg").unlink()
    _png_header(beta / "00005.png", 9000, 9000)  # 81 megapixels in 1 KB
    decoded = []
    convert = Image.Image.convert
    monkeypatch.setattr(Image.Image, "convert", lambda im, *a, **k: decoded.append(im.size) or convert(im, *a, **k))
    ev = evaluate_submission(submission, tmp_path / "ev", SuiteSelection("tgve", str(tgve_zip), tasks=["style"]),
                             metrics=["source_mae"], progress=False)
    errors = {k: r["error"] for k, r in _records(tmp_path / "ev").items() if r["status"] == "failed"}
    assert "400 frames, expected 6" in errors["DAVIS_480p/alpha/style"]
    assert "9000x9000 pixels, expected 32x32" in errors["DAVIS_480p/beta/style"]
    assert ev["n_ok"] == 1 and decoded == [(32, 32)] * 6  # only gamma's frames were decoded


def test_eval_reads_and_lists_nothing_outside_the_submission(tgve_zip, tmp_path):
    out = tmp_path / "run"
    assert main(_run_args(tgve_zip, out, "--model", "identity", "--tasks", "style", "--no-previews")) == 0
    submission = out / "submission"
    linked = submission / "DAVIS_480p" / "alpha" / "style"
    shutil.move(linked, tmp_path / "outside")
    linked.symlink_to(tmp_path / "outside")
    (submission / "everything").symlink_to("/")
    ev = evaluate_submission(submission, tmp_path / "ev", SuiteSelection("tgve", str(tgve_zip), tasks=["style"]),
                             metrics=["source_mae"], progress=False)
    assert "a symbolic link out of" in _records(tmp_path / "ev")["DAVIS_480p/alpha/style"]["error"]
    assert ev["n_ok"] == 2 and ev["unmatched_folders"] == []


@pytest.fixture(scope="module")
def human_runs(tmp_path_factory):
    from page_runs import synth_runs

    return synth_runs(tmp_path_factory.mktemp("runs"))


def test_the_rating_server_checks_files_hosts_and_requests_when_asked(human_runs, tmp_path, monkeypatch):
    import http.client

    from page_runs import serving

    monkeypatch.setattr("eve_bench.human.server.TIMEOUT_S", 1)
    with serving(human_runs, tmp_path / "v.sqlite") as base:
        host, port = base.removeprefix("http://").split(":")

        def request(method, path, body=None, headers=None):
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            try:
                conn.request(method, path, body=body, headers=headers or {})
                response = conn.getresponse()
                return response.status, response.read()
            finally:
                conn.close()

        a = json.loads(request("GET", "/api/next?rater=ann")[1])
        # A preview swapped for a link after the start is not served.
        url = next(u for u in (a["left"], a["right"]) if u.startswith("/media/out/0/"))
        preview = human_runs[0] / "previews" / url.removeprefix("/media/out/0/")
        keep = preview.read_bytes()
        preview.unlink()
        preview.symlink_to("/etc/passwd")
        try:
            status, data = request("GET", url)
            assert status == 404 and b"root:" not in data
        finally:
            preview.unlink()
            preview.write_bytes(keep)
        assert request("GET", url)[0] == 200
        # DNS rebinding: a name other than localhost, an address or --host is refused.
        assert request("GET", "/api/next?rater=ann", headers={"Host": f"evil.example:{port}"})[0] == 400
        assert request("GET", "/api/next?rater=ann", headers={"Host": f"localhost:{port}"})[0] == 200
        # An id past SQLite's integers, and JSON nested past the parser's depth: 400, not a dropped connection.
        vote = {"rater": "ann", "assignment": 2**63, "answers": {"text": "left", "structure": "left", "quality": "left"}}
        for body in (json.dumps(vote).encode(), b"[" * 2000 + b"]" * 2000):
            status, data = request("POST", "/api/vote", body, {"Content-Type": "application/json"})
            assert status == 400 and "error" in json.loads(data)
        # A stalled connection is closed, not held for ever.
        with socket.create_connection((host, int(port)), timeout=10) as stalled:
            stalled.sendall(b"GET / HTTP/1.1\r\n")
            assert stalled.recv(1024) == b""


def test_the_report_refuses_a_file_that_is_not_a_votes_database(tmp_path, capsys):
    empty, text = tmp_path / "empty.sqlite", tmp_path / "notes.sqlite"
    empty.write_bytes(b"")
    text.write_text("my notes\n")
    for db in (empty, text):
        err = _error(capsys, ["human", "report", "--db", str(db)])
        assert str(db) in err and "not an eve-bench votes database" in err
    assert empty.read_bytes() == b"" and sorted(p.name for p in tmp_path.iterdir()) == ["empty.sqlite", "notes.sqlite"]


def test_eval_never_deletes_the_submission_it_scores(tgve_zip, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_run_args(tgve_zip, out, "--model", "identity", "--limit", "1")) == 0
    err = _error(capsys, _eval_args(out / "submission", tgve_zip, out, "--overwrite"))
    assert "lies inside the results of --out" in err
    assert len(list((out / "submission").rglob("*.jpg"))) == 4 * 6  # 4 samples of 6 frames


def test_a_summary_that_cannot_be_written_leaves_no_summary(tgve_zip, tmp_path, monkeypatch, capsys):
    from eve_bench.atomic import atomic_write_text

    out = tmp_path / "run"
    assert main(_run_args(tgve_zip, out, "--model", "identity", "--limit", "1")) == 0

    def full_at_summary(path, text):
        if Path(path).name == "summary.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        atomic_write_text(path, text)

    with monkeypatch.context() as m:
        m.setattr("eve_bench.run.results.atomic_write_text", full_at_summary)
        assert "summary.json: No space left on device" in _error(capsys, _run_args(tgve_zip, out, "--model", "identity"))
    assert not (out / "summary.json").exists()
    assert "no summary.json" in _error(capsys, ["leaderboard", str(out), "--out", str(tmp_path / "lb")])


def test_damaged_run_files_are_one_line_errors_naming_the_file(tgve_zip, tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(TESTS))
    a, b, lb = tmp_path / "a", tmp_path / "b", tmp_path / "lb"
    assert main(_run_args(tgve_zip, a, "--model", "identity", "--limit", "1")) == 0
    assert main(_run_args(tgve_zip, b, "--model", "editors_for_tests", "--limit", "1")) == 0
    board = ["leaderboard", str(a), str(b), "--out", str(lb)]
    assert main(board) == 0
    media = sorted(p.relative_to(lb) for p in (lb / "leaderboard_media").rglob("*"))

    def refused(path: Path, damaged: bytes, why: str) -> None:
        keep = path.read_bytes()
        path.write_bytes(damaged)
        try:
            err = _error(capsys, board)
            assert str(path) in err and why in err, err
        finally:
            path.write_bytes(keep)

    refused(b / "previews" / "DAVIS_480p" / "alpha" / "style.mp4", b"", "style.mp4")
    assert sorted(p.relative_to(lb) for p in (lb / "leaderboard_media").rglob("*")) == media  # the old gallery is whole
    lines = (b / "samples.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    for bad, why in (([1, 2], "a JSON list, not an object"), ({**first, "metrics": None}, "metrics is None, not an object")):
        refused(b / "samples.jsonl", "\n".join([json.dumps(bad)] + lines[1:]).encode(), f"line 1: not a sample record: {why}")
    summary = (b / "summary.json").read_bytes()
    refused(b / "summary.json", summary[: len(summary) // 2], "not valid JSON")
    formula = {**json.loads(summary), "n_samples": "=1+1"}  # a spreadsheet formula where a count belongs
    refused(b / "summary.json", json.dumps(formula).encode(), "n_samples is '=1+1', not a whole number")
    # Files of two runs mixed: a mean would stand beside another run's interval.
    refused(b / "samples.jsonl", "\n".join(lines[:-1]).encode(), "holds 3 values of source_mae where summary.json averaged 4")
    # The run itself: a record that is a folder, a run.json that is a list.
    record = b / "records" / "DAVIS_480p" / "alpha" / "style.json"
    record.unlink()
    record.mkdir()
    err = _error(capsys, _run_args(tgve_zip, b, "--model", "editors_for_tests", "--limit", "1"))
    assert f"cannot write {record}" in err
    record.rmdir()
    (b / "run.json").write_text("[]")
    assert "holds results of another configuration" in _error(capsys, _run_args(tgve_zip, b, "--model", "editors_for_tests"))


def test_a_mean_over_part_of_the_samples_says_so(tmp_path):
    from eve_bench.reports.leaderboard import write_leaderboard

    out = tmp_path / "run"
    assert main(["run", "--model", "identity", "--limit", "1", "--quiet", "--out", str(out), "--metrics",
                 "gt_psnr_out,source_mae"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metric_counts"] == {"gt_psnr_out": 5, "source_mae": 7}  # no region outside a whole-frame edit
    write_leaderboard([out], tmp_path / "lb", gallery_per_task=0)
    md = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert "(n=5)" in md and "(n=7)" not in md
    assert list(pd.read_csv(tmp_path / "lb" / "leaderboard.csv")["gt_psnr_out n"]) == [5]


def test_names_with_invisible_characters_are_refused_and_messages_stay_one_line(tgve_zip, tmp_path, capsys):
    csv = tgve_zip / CSV
    text = csv.read_text()
    for name in ("al\x85pha", "al\u2028pha", "al\u202epha", "al\u200bpha"):
        csv.write_text(text.replace("\nalpha,", f"\n{name},"))
        with pytest.raises(SuiteError, match="line 3: 'Video name' .* control character, or another invisible one"):
            load_suite("tgve", str(tgve_zip))
    csv.write_text(text)
    forged = tmp_path / "x\neve-bench: error: forged"
    forged.write_text("a file where the run folder should be")
    assert "\\n" not in _error(capsys, _run_args(tgve_zip, forged, "--model", "identity"))


def test_a_tgve_plus_parquet_must_have_rows_and_unambiguous_columns(tgve_zip):
    row = {"instruction": "i", "input_caption": "a", "output_caption": "b", "edit_type": "style",
           "video_path": "DAVIS_480p/480p_videos/alpha.mp4"}
    pd.DataFrame([row]).iloc[:0].to_parquet(tgve_zip / "p.parquet")
    with pytest.raises(SuiteError, match=r"p\.parquet: the parquet has no rows"):
        load_suite("tgve-plus", str(tgve_zip))
    pd.DataFrame([{**row, "Instruction": "j"}]).to_parquet(tgve_zip / "p.parquet")
    with pytest.raises(SuiteError, match=r"columns 'instruction', 'Instruction' could each be the instruction"):
        load_suite("tgve-plus", str(tgve_zip))
    assert load_suite("tgve-plus", str(tgve_zip), instruction_column="Instruction").samples[0].instruction == "j"


def test_no_previews_leaves_no_stale_preview_and_bad_sources_count_their_samples(tgve_zip, tmp_path, monkeypatch):
    from eve_bench.suites import tgve
    from eve_bench.video import VideoReadError

    monkeypatch.syspath_prepend(str(TESTS))
    weights = tmp_path / "weights.txt"
    weights.write_text("60")
    out = tmp_path / "run"
    args = _run_args(tgve_zip, out, "--model", "editors_for_tests:WeightedEditor", "--model-args", f"weights={weights}")
    assert main(args) == 0 and len(list((out / "previews").rglob("*.mp4"))) == 12
    weights.write_text("-60")
    assert main(args + ["--no-previews"]) == 0
    assert not list((out / "previews").rglob("*.mp4"))

    def corrupt(path, fps=None):
        raise VideoReadError(f"{path}: cannot decode frames (corrupt stream)")

    monkeypatch.setattr(tgve, "read_video", corrupt)  # opens, but does not decode
    with pytest.raises(SuiteError, match=r"1 source video\(s\) missing or unreadable \(4 sample\(s\) affected\)"):
        run(RunConfig(model="identity", out=tmp_path / "run2", selection=SuiteSelection("tgve", str(tgve_zip)),
                      metrics=["source_mae"], progress=False))


# --- Identities that reproduce ------------------------------------------------------------------


def test_the_same_weights_in_two_folders_have_one_id_and_share_the_embedding_cache(tmp_path):
    from eve_bench.metrics import MetricInput, MetricOptions
    from eve_bench.metrics.clip import ClipText
    from eve_bench.metrics.viclip import ViCLIPOut
    from eve_bench.weights import SYNTH_CLIP_DIR, SYNTH_VICLIP_DIR

    copies = {}
    for name, src in (("clip", SYNTH_CLIP_DIR), ("viclip", SYNTH_VICLIP_DIR)):
        a, b = tmp_path / "checkout" / name, tmp_path / "fresh clone" / f"{name}-copy"
        shutil.copytree(src, a)
        shutil.copytree(src, b)
        for f in b.iterdir():  # a clone's files have new modification times
            os.utime(f, ns=(10**18, 10**18))
        copies[name] = (a, b)

    def clip(folder):
        return ClipText(MetricOptions(metric_args={"clip_text": {"model": str(folder)}}))

    def viclip(folder):
        return ViCLIPOut(MetricOptions(metric_args={"viclip_out": {"model": str(folder)}}))

    for make, (a, b) in ((clip, copies["clip"]), (viclip, copies["viclip"])):
        assert make(a).cache_id == make(b).cache_id and str(tmp_path) not in make(a).cache_id
    sample = load_suite("synth").samples[0]
    item = MetricInput(sample=sample, edited=sample.load_source(), source=sample.load_source())
    first, second = clip(copies["clip"][0]), clip(copies["clip"][1])
    first.prepare()
    second.prepare()
    assert first.compute([item]) == second.compute([item])
    assert first.encoder.encoder_calls > 0 and second.encoder.encoder_calls == 0  # served from the cache
    # Weights changed in place (same size, same name) are other weights.
    weights = copies["clip"][1] / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    assert clip(copies["clip"][1]).cache_id != first.cache_id


def test_model_args_naming_files_enter_the_cache_key_by_content(tmp_path, monkeypatch):
    from eve_bench.run.resume import keyed_model_args

    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "w.safetensors").write_bytes(b"weights" if name != "c" else b"retrain")
    same, other = keyed_model_args({"weights": str(tmp_path / "a"), "steps": 4}), keyed_model_args({"weights": str(tmp_path / "c"), "steps": 4})
    assert same == keyed_model_args({"weights": str(tmp_path / "b"), "steps": 4}) != other
    assert same["steps"] == 4 and same["weights"].startswith("sha256:") and str(tmp_path) not in json.dumps(same)


def test_a_reference_model_is_keyed_by_the_files_it_loads(tmp_path, monkeypatch):
    """A baseline's and a student's cached results are keyed by what each loads (config, backbone,
    adapters; the student's own folder), wherever the checkpoint lies and also when `weights` is
    left at its default: another student trained into the same folder changes neither key, a
    change to a part they read changes both (reference.baselines.reads, reference.eve.reads)."""
    import shutil

    from eve_bench.models import resolve_factory
    from eve_bench.run.resume import keyed_model_args
    from reference.checkpoint import EVEModel

    ckpt = tmp_path / "ckpt"
    EVEModel.from_preset("tiny", seed=0).save_pretrained(ckpt)
    (ckpt / "align").mkdir()
    (ckpt / "align" / "pytorch_lora_weights.safetensors").write_bytes(b"student")

    def keys(weights=None, **args):
        given = {**({"weights": str(weights)} if weights else {}), **args}
        return [keyed_model_args(given, getattr(resolve_factory(m), "reads", None))
                for m in ("reference.baselines:plug_and_play", "reference.eve")]

    before = keys(ckpt)
    assert all(k["weights"].startswith("sha256:") for k in before) and before[0] != before[1]
    (ckpt / "align_no_disc").mkdir()
    (ckpt / "align_no_disc" / "pytorch_lora_weights.safetensors").write_bytes(b"another student")
    (ckpt / "TRAINING.md").write_text("notes")
    assert keys(ckpt) == before
    assert keys(ckpt, variant="no_disc")[1] != before[1]  # that student's own folder
    shutil.copytree(ckpt, tmp_path / "elsewhere")
    assert keys(tmp_path / "elsewhere") == before
    monkeypatch.setenv("EVE_REFERENCE_WEIGHTS", str(ckpt))
    assert [k["weights"] for k in keys()] == [k["weights"] for k in before]  # the default, by its files
    (ckpt / "align" / "pytorch_lora_weights.safetensors").write_bytes(b"retrained")
    after = keys(ckpt)
    assert after[0] == before[0] and after[1] != before[1]
    config = json.loads((ckpt / "eve_config.json").read_text())
    config["sampling"] = {"steps": 4}
    (ckpt / "eve_config.json").write_text(json.dumps(config))
    assert all(a != b for a, b in zip(keys(ckpt), after))
    missing = str(tmp_path / "no_such_checkpoint")  # keying never raises; loading says what is missing
    assert [k["weights"] for k in keys(missing)] == [missing, missing]


def test_a_folder_is_read_once_per_machine_until_its_files_change(tmp_path, monkeypatch):
    import eve_bench.hashing as hashing

    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"\0" * 4096)
    first = hashing.cached_files_digest(folder)
    assert first == hashing.files_digest(folder)
    assert len(list((Path(os.environ["EVE_BENCH_CACHE"]) / "digests").glob("*.json"))) == 1
    read = []
    digest = hashing._digest
    monkeypatch.setattr(hashing, "_digest", lambda root, files: read.append(root) or digest(root, files))
    assert hashing.cached_files_digest(folder) == first and read == []
    (folder / "model.safetensors").write_bytes(b"\1" * 4096)  # same name and size
    assert hashing.cached_files_digest(folder) != first and len(read) == 1


def test_cache_keys_are_pinned(tmp_path, monkeypatch):
    """A finished run stays finished across refactors: these keys change only when a version
    constant is bumped on purpose (resume.CACHE_FORMAT, a metric's `version`,
    EMBEDDING_CACHE_FORMAT) or the shipped weights change. Update the pins only then."""
    from eve_bench.encoders.cache import EmbeddingCache
    from eve_bench.metrics import MetricOptions
    from eve_bench.metrics.clip import ClipText
    from eve_bench.metrics.viclip import ViCLIPOut
    from eve_bench.metrics.structure import EdgeSSIM
    from eve_bench.run.resume import cache_key, sample_seed
    from eve_bench.weights import SYNTH_CLIP_DIR, SYNTH_VICLIP_DIR

    monkeypatch.setattr("eve_bench.run.resume.model_version", lambda spec: "editor==1.0")
    sample = Sample(video_id="v", group="g", task="style", instruction="make it red", source_caption="a cat",
                    target_caption="a red cat", load_source=lambda: None)
    suite = Suite(name="s", version="1", tasks=("style",), samples=(sample,))
    cfg = RunConfig(model="pkg.editor", out=tmp_path, model_args={"steps": 4})
    assert sample.fingerprint == "2dc40b2046d7bc75"
    assert sample_seed(0, sample) == 1196371123
    assert cache_key(cfg, suite, sample, sample_seed(0, sample), {"steps": 4, "weights": "sha256:0"}) == "52c18a7323750091797bb8ca"
    assert load_suite("synth").samples[0].fingerprint == "6c0b8c28ccec3da5"
    assert EdgeSSIM().cache_id == "edge_ssim@v1"
    assert ClipText(MetricOptions(metric_args={"clip_text": {"model": str(SYNTH_CLIP_DIR)}})).cache_id == "clip_text@v1|sha256:a9deb5c50c1ca6c2429b2e1a|tgve480"
    assert ViCLIPOut(MetricOptions(metric_args={"viclip_out": {"model": str(SYNTH_VICLIP_DIR)}})).cache_id == "viclip_out@v1|sha256:d4245dd5bb9a73b05622a9f7|uniform-clip"
    cache = EmbeddingCache(tmp_path)
    assert cache._path("clip-text|sha256:0", "ab" * 32).relative_to(tmp_path).as_posix() == "042b6ed82ee9a6fb/ab/" + "ab" * 32 + ".npy"


def test_a_summary_records_threads_and_device_and_no_machine_path(tmp_path):
    import torch

    out = tmp_path / "run"
    assert main(["run", "--model", "identity", "--limit", "1", "--quiet", "--out", str(out)]) == 0  # synth: every default metric
    summary = json.loads((out / "summary.json").read_text())
    assert summary["torch_threads"] == torch.get_num_threads() and summary["device"] == "cpu"
    for name in ("summary.json", "samples.jsonl"):
        text = (out / name).read_text()
        assert str(REPO) not in text and str(tmp_path) not in text, name


def test_runs_with_the_same_weights_in_two_folders_compare(tmp_path, capsys):
    from eve_bench.weights import SYNTH_CLIP_DIR

    runs = []
    for name in ("a", "b"):
        weights = tmp_path / f"clip-{name}"
        shutil.copytree(SYNTH_CLIP_DIR, weights)
        runs.append(tmp_path / f"run-{name}")
        assert main(["run", "--model", "identity", "--limit", "1", "--quiet", "--out", str(runs[-1]), "--metrics", "clip_text",
                     "--clip-model", str(weights)]) == 0
    assert main(["leaderboard", *map(str, runs), "--out", str(tmp_path / "lb"), "--gallery-per-task", "0"]) == 0
    md = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert "Not comparable" not in md and str(tmp_path / "clip-a") not in md


def test_a_weights_file_named_directly_is_identified_by_its_bytes_whatever_its_name(tmp_path):
    from eve_bench.encoders.local_weights import weights_id

    a, b = tmp_path / "viclip-a.weights", tmp_path / "viclip-b.weights"
    a.write_bytes(b"one set of weights")
    b.write_bytes(b"another set of weights")
    assert weights_id(a) != weights_id(b)
