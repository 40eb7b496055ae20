"""Small finished runs for the leaderboard page and the human-evaluation server tests."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from pathlib import Path

from eve_bench.run.config import RunConfig, SuiteSelection
from eve_bench.run.runner import run
from fixtures import make_tgve_zip_layout

# Markup a run or a dataset could carry: it must show as text and never run.
INJECTED = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


def synth_runs(root: Path) -> list[Path]:
    """identity and two noisy editors on one sample of each synth task (7 samples, ground truth)."""
    sel = SuiteSelection(suite="synth", limit=1)
    specs = [("identity", {}, "identity"), ("editors_for_tests", {}, "noisy"),
             ("editors_for_tests", {"strength": 10}, "noisy10")]
    outs = []
    for model, args, name in specs:
        run(RunConfig(model=model, out=root / name, selection=sel, model_args=args,
                      metrics=["source_mae", "gt_psnr_in", "warp_error"], progress=False))
        outs.append(root / name)
    return outs


def injected_runs(root: Path) -> list[Path]:
    """Two TGVE runs whose data has markup in a caption and whose second run has it in its model name."""
    data = make_tgve_zip_layout(root / "tgve", {"DAVIS_480p": ["alpha"]})
    csv = data / "LOVEU-TGVE-2023_Dataset.csv"
    csv.write_text(csv.read_text().replace("A alpha robot.", f"A {INJECTED} robot."))
    sel = SuiteSelection(suite="tgve", data=str(data), tasks=["object", "style"])
    outs = []
    for model, name in [("identity", "identity"), ("editors_for_tests", "evil")]:
        run(RunConfig(model=model, out=root / name, selection=sel, metrics=["source_mae"], progress=False))
        outs.append(root / name)
    summary = json.loads((outs[1] / "summary.json").read_text())
    summary["model"], summary["model_args"] = INJECTED, {"note": INJECTED}  # as if given on the command line
    (outs[1] / "summary.json").write_text(json.dumps(summary))
    return outs


@contextmanager
def serving(runs, db: Path, ties: bool = False):
    """An in-process `human serve` on a free port of 127.0.0.1; yields its base URL; always shut down."""
    from eve_bench.human.server import ServeConfig, make_server

    server = make_server(ServeConfig(runs=[str(r) for r in runs], db=db, port=0, ties=ties))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
