"""eve-bench human: the queue, the votes' durability across a killed server, the report's counts,
and the server's refusals (path traversal, malformed votes). The browser side: test_browser.py."""

import http.client
import itertools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from eve_bench.human.report import Vote, agreement, build_report, write_report
from eve_bench.human.server import ServeConfig
from eve_bench.human.store import Store
from eve_bench.human.study import load_study
from eve_bench.questions import QUESTION_IDS
from eve_bench.reports.gt_preference import Preference
from page_runs import serving, synth_runs

TESTS = Path(__file__).parent
REPO = TESTS.parent


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return synth_runs(tmp_path_factory.mktemp("runs"))


def _request(base: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """A raw request: the path is sent exactly as given (no client-side normalisation of ..)."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, data
    finally:
        conn.close()


def _get_json(base, path):
    status, data = _request(base, "GET", path)
    return status, json.loads(data)


def _vote(base, rater, assignment, answers, content_type="application/json"):
    body = json.dumps({"rater": rater, "assignment": assignment, "answers": answers}).encode()
    status, data = _request(base, "POST", "/api/vote", body, {"Content-Type": content_type})
    return status, json.loads(data)


def test_server_binds_loopback_by_default():
    assert ServeConfig(runs=[], db=Path("x")).host == "127.0.0.1"


def test_server_serves_only_the_studys_videos(runs, tmp_path):
    with serving(runs, tmp_path / "v.sqlite") as base:
        _, a = _get_json(base, "/api/next?rater=ann")
        for url in (a["source"], a["left"], a["right"]):
            status, data = _request(base, "GET", url)
            assert status == 200 and data[4:8] == b"ftyp"
        status, data = _request(base, "GET", a["left"], headers={"Range": "bytes=0-9"})
        assert status == 206 and len(data) == 10
        for path in ["/media/out/0/../summary.json", "/media/out/0/%2e%2e/summary.json", "/media/out/0/../../../../etc/passwd",
                     "/../pyproject.toml", "/media/source/" + "%2F" * 3 + "etc/passwd", "/media/out/9/synth/synth-000/style.mp4",
                     "//etc/passwd", "/media/out/0/synth/synth-000/style.json", "/page.html/../../summary.json"]:
            status, data = _request(base, "GET", path)
            assert status == 404, path
            assert b"root:" not in data and b"schema_version" not in data


def test_malformed_votes_are_refused_with_a_clear_4xx(runs, tmp_path):
    with serving(runs, tmp_path / "v.sqlite") as base:
        _, a = _get_json(base, "/api/next?rater=ann")
        ok = {q: "left" for q in QUESTION_IDS}
        cases = [
            (lambda: _request(base, "POST", "/api/vote", b"{not json", {"Content-Type": "application/json"}), 400, "not JSON"),
            (lambda: _vote(base, "ann", a["assignment"], ok, "text/plain"), 415, "application/json"),
            (lambda: _vote(base, "ann", a["assignment"], {"text": "left"}), 400, "exactly text, structure, quality"),
            (lambda: _vote(base, "ann", a["assignment"], dict(ok, quality="tie")), 400, "one of left, right"),  # no --ties
            (lambda: _vote(base, "ann", a["assignment"], dict(ok, quality="<b>")), 400, "one of left, right"),
            (lambda: _vote(base, "ann", str(a["assignment"]), ok), 400, "assignment"),
            (lambda: _vote(base, "ann", True, ok), 400, "assignment"),
            (lambda: _vote(base, "bob", a["assignment"], ok), 404, "no assignment"),
            (lambda: _vote(base, "", a["assignment"], ok), 400, "rater name"),
            (lambda: _vote(base, "x" * 65, a["assignment"], ok), 400, "rater name"),
            (lambda: _request(base, "POST", "/api/vote", b"x" * 5000, {"Content-Type": "application/json"}), 413, "at most"),
            (lambda: _request(base, "POST", "/api/other", b"{}", {"Content-Type": "application/json"}), 404, "not found"),
            (lambda: _request(base, "GET", "/api/next?rater=a%0Ab"), 400, "rater name"),
        ]
        for call, status, message in cases:
            got, body = call()
            body = body if isinstance(body, dict) else json.loads(body)
            assert got == status and message in body["error"], (status, message, got, body)
        assert _vote(base, "ann", a["assignment"], ok)[0] == 200
        assert _vote(base, "ann", a["assignment"], ok) == (409, {"error": f"assignment {a['assignment']} is already answered"})
    assert sqlite3.connect(tmp_path / "v.sqlite").execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 1


def test_a_database_belongs_to_one_study(runs, tmp_path):
    study = load_study([str(r) for r in runs], tmp_path / "media")
    Store(tmp_path / "v.sqlite", study, ties=True)
    with pytest.raises(ValueError, match="another --db"):
        Store(tmp_path / "v.sqlite", load_study([str(r) for r in runs[:2]], tmp_path / "media"), ties=True)
    with pytest.raises(ValueError, match="another --db"):
        Store(tmp_path / "v.sqlite", study, ties=False)


def test_queue_balances_pairs_and_resumes_the_unanswered_assignment(runs, tmp_path):
    study = load_study([str(r) for r in runs], tmp_path / "media")
    store = Store(tmp_path / "v.sqlite", study, ties=False)
    first = store.next_assignment("ann")
    assert store.next_assignment("ann") == first  # a reload shows the same pair, same sides
    pairs = Counter()
    for rater in itertools.islice(itertools.cycle(["ann", "bob"]), 12):
        a = store.next_assignment(rater)
        pairs[a.item.a, a.item.b] += 1
        store.vote(rater, a.id, {q: "left" for q in QUESTION_IDS})
    assert sorted(pairs.values()) == [4, 4, 4]  # 3 pairs, balanced
    assert store.progress("ann") == (6, 21)


def _start(runs, db):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(TESTS)]), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "eve_bench.cli", "human", "serve", *map(str, runs), "--db", str(db),
                             "--port", "0", "--ties"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()  # "eve-bench human: serving http://127.0.0.1:PORT/ ..."
    if "serving http://" not in line:
        proc.kill()
        raise AssertionError(f"server did not start: {line!r} {proc.stderr.read()}")
    return proc, line.split("serving ")[1].split("/ ")[0]


def test_thirty_votes_two_raters_three_runs_killed_server_report_matches(runs, tmp_path):
    """Acceptance: 30 scripted votes by two raters over three runs, the server SIGKILLed and
    restarted after 15; the report's counts equal the votes cast, exactly."""
    db = tmp_path / "votes.sqlite"
    rng = random.Random(0)
    expected: dict[tuple, Counter] = {}
    pending = None
    proc, base = _start(runs, db)
    try:
        for i in range(30):
            rater = ("ann", "bob")[i % 2]
            if i == 15:
                # Killed with an assignment fetched but not answered: the restart must show it again.
                _, pending = _get_json(base, f"/api/next?rater={rater}")
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
                proc, base = _start(runs, db)
            _, a = _get_json(base, f"/api/next?rater={rater}")
            if i == 15:
                assert a["assignment"] == pending["assignment"] and (a["left"], a["right"]) == (pending["left"], pending["right"])
            assert "model" not in json.dumps(a) and "identity" not in json.dumps(a)  # names hidden
            answers = {q: rng.choice(["left", "right", "tie"]) for q in QUESTION_IDS}
            status, body = _vote(base, rater, a["assignment"], answers)
            assert status == 200, body
            # What the vote means, from the side recorded when it was shown.
            run_a, run_b, left = sqlite3.connect(db).execute(
                "SELECT run_a, run_b, left_run FROM assignments WHERE id = ?", (a["assignment"],)).fetchone()
            for q, v in answers.items():
                side = "tie" if v == "tie" else "a" if (v == "left") == (left == run_a) else "b"
                expected.setdefault((run_a, run_b, q), Counter())[side] += 1
    finally:
        proc.kill()
        proc.wait(timeout=10)
    runs_, ties, votes, reports = build_report(db)
    assert len(votes) == 30 and {v.rater for v in votes} == {"ann", "bob"} and ties
    assert sum(p.votes for p in reports) == 30 and len(reports) == 3
    for p in reports:
        for q, result in zip(QUESTION_IDS, p.preference.questions):
            want = expected[p.a.path, p.b.path, q]
            assert (result.wins, result.ties, result.losses) == (want["a"], want["tie"], want["b"])
            share = 100 * (want["a"] + 0.5 * want["tie"]) / sum(want.values())
            assert result.share.estimate == pytest.approx(share) and result.share.low <= share <= result.share.high
    # Each rater judged 15 of the 21 items, so some items have both: agreement is computed there.
    assert sum(g.items for p in reports for g in p.agreement[:1]) >= 9
    text, written = write_report(db, tmp_path / "report")
    assert "| Text (% A) |" in text and "Krippendorff" in text
    assert len((tmp_path / "report" / "votes.csv").read_text().splitlines()) == 31
    assert len((tmp_path / "report" / "human_eval.csv").read_text().splitlines()) == 4
    table = json.loads((tmp_path / "report" / "human_eval.json").read_text())
    assert table["raters"] == ["ann", "bob"] and [p["votes"] for p in table["pairs"]] == [p.votes for p in reports]
    assert [Preference.from_dict(p["preference"]) for p in table["pairs"]] == [p.preference for p in reports]


def test_agreement_perfect_chance_and_undefined():
    def votes(answers_by_item):
        return [Vote(0, f"r{j}", "a", "b", item, "a", {q: ans for q in QUESTION_IDS}, "")
                for item, answers in answers_by_item.items() for j, ans in enumerate(answers)]

    perfect = agreement(votes({"s1": ["a", "a"], "s2": ["b", "b"], "s3": ["tie", "tie"]}), "text")
    assert (perfect.items, perfect.percent, perfect.alpha) == (3, 100.0, 1.0)
    opposed = agreement(votes({"s1": ["a", "b"], "s2": ["b", "a"]}), "text")
    assert opposed.percent == 0.0 and opposed.alpha < 0
    same = agreement(votes({"s1": ["a", "a"], "s2": ["a", "a", "a"]}), "text")
    assert same.percent == 100.0 and same.alpha is None  # no variation: alpha is undefined
    assert agreement(votes({"s1": ["a"]}), "text").items == 0
