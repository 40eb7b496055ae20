"""Votes in SQLite: one transaction per vote, so a killed server loses at most the vote in flight.

Tables: `study` (the runs compared, whether ties are allowed: a database belongs to one study),
`assignments` (an item shown to a rater, with the run shown on the left, drawn at random and
recorded before the rater sees it) and `votes` (one per assignment). A rater's progress is the
set of their votes, so the queue resumes wherever they stopped: a rater who reloads is shown their
unanswered assignment again, with the same sides.

The queue balances judgements across pairs: a rater gets an item they have not judged from the pair
with the fewest assignments so far, and within it the sample with the fewest, in suite order. So
raters spread over the samples first and then overlap, which gives rater agreement once every
item has been judged once.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from eve_bench.human.study import Item, Run, Study
from eve_bench.questions import QUESTION_IDS

ANSWERS = ("a", "b", "tie")  # stored: run a (the earlier on the command line), run b, or a tie
MAX_RATER = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

SCHEMA = """
CREATE TABLE IF NOT EXISTS study (id INTEGER PRIMARY KEY CHECK (id = 1), runs TEXT NOT NULL, ties INTEGER NOT NULL,
                                  created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assignments (id INTEGER PRIMARY KEY, rater TEXT NOT NULL, run_a TEXT NOT NULL,
    run_b TEXT NOT NULL, sample TEXT NOT NULL, left_run TEXT NOT NULL, created TEXT NOT NULL,
    UNIQUE (rater, run_a, run_b, sample));
CREATE TABLE IF NOT EXISTS votes (assignment INTEGER PRIMARY KEY REFERENCES assignments (id), rater TEXT NOT NULL,
    run_a TEXT NOT NULL, run_b TEXT NOT NULL, sample TEXT NOT NULL, left_run TEXT NOT NULL,
    text TEXT NOT NULL CHECK (text IN ('a', 'b', 'tie')), structure TEXT NOT NULL CHECK (structure IN ('a', 'b', 'tie')),
    quality TEXT NOT NULL CHECK (quality IN ('a', 'b', 'tie')), created TEXT NOT NULL);
"""


class VoteError(ValueError):
    """A request the store refuses; `status` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Assignment:
    id: int
    rater: str
    item: Item
    left: int  # index of the run shown on the left


def check_rater(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise VoteError("a rater name is required")
    name = name.strip()
    if len(name) > MAX_RATER or _CONTROL.search(name):
        raise VoteError(f"a rater name is at most {MAX_RATER} printable characters")
    return name


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


SQLITE_MAGIC = b"SQLite format 3\x00"


def check_votes_file(path: Path) -> None:
    """ValueError unless `path` is absent or an SQLite file: sqlite would take an empty or foreign
    file for a new database and write into it."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror or e})") from None
    if head != SQLITE_MAGIC:
        raise ValueError(f"{path}: {'an empty file' if not head else 'not an SQLite file'}, not an eve-bench votes database")


def connect(path: Path) -> sqlite3.Connection:
    # Autocommit mode with explicit BEGIN IMMEDIATE: each vote is its own durable transaction, and
    # concurrent requests queue for the write lock instead of failing.
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def study_runs(conn: sqlite3.Connection) -> tuple[list[Run], bool]:
    """The runs and the ties setting a database was created for."""
    try:
        row = conn.execute("SELECT runs, ties FROM study").fetchone()
    except sqlite3.DatabaseError:  # an SQLite file of something else: no study table
        row = None
    if row is None:
        raise ValueError("this database holds no study (was it made by eve-bench human serve?)")
    return [Run(**r) for r in json.loads(row[0])], bool(row[1])


class Store:
    def __init__(self, path: Path, study: Study, ties: bool) -> None:
        self.path, self.study, self.ties = Path(path), study, ties
        self._random = random.SystemRandom()
        check_votes_file(self.path)
        conn = self._connection()
        try:
            conn.executescript(SCHEMA)
            conn.execute("BEGIN IMMEDIATE")
            if conn.execute("SELECT 1 FROM study").fetchone() is None:
                runs = json.dumps([r.__dict__ for r in study.runs])
                conn.execute("INSERT INTO study VALUES (1, ?, ?, ?)", (runs, int(ties), _now()))
            conn.execute("COMMIT")
            recorded, recorded_ties = study_runs(conn)
        finally:
            conn.close()
        if [r.path for r in recorded] != [r.path for r in study.runs] or recorded_ties != ties:
            raise ValueError(f"{path} holds votes on runs {', '.join(r.path for r in recorded)} "
                             f"(ties {'allowed' if recorded_ties else 'not allowed'}); "
                             "serve the same runs in the same order with the same --ties, or use another --db")

    def _connection(self) -> sqlite3.Connection:
        return connect(self.path)  # one per call: requests arrive on many threads

    def _assignment(self, row) -> Assignment:
        a, b = (next(i for i, r in enumerate(self.study.runs) if r.path == row[p]) for p in (2, 3))
        left = a if row[5] == self.study.runs[a].path else b
        return Assignment(row[0], row[1], Item(a, b, row[4]), left)

    def next_assignment(self, rater: str) -> Assignment | None:
        """The rater's unanswered assignment, or a new one from the queue; None when they judged every item."""
        rater = check_rater(rater)
        runs = self.study.runs
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT a.id, a.rater, a.run_a, a.run_b, a.sample, a.left_run FROM assignments a "
                               "LEFT JOIN votes v ON v.assignment = a.id WHERE a.rater = ? AND v.assignment IS NULL "
                               "ORDER BY a.id LIMIT 1", (rater,)).fetchone()
            if row is None:
                taken = conn.execute("SELECT run_a, run_b, sample, rater FROM assignments").fetchall()
                mine = {(ra, rb, k) for ra, rb, k, who in taken if who == rater}
                per_pair, per_item = {}, {}
                for ra, rb, k, _ in taken:
                    per_pair[ra, rb] = per_pair.get((ra, rb), 0) + 1
                    per_item[ra, rb, k] = per_item.get((ra, rb, k), 0) + 1
                ids = [(runs[i.a].path, runs[i.b].path, i.key) for i in self.study.items]
                open_ = [(per_pair.get(p[:2], 0), per_item.get(p, 0), n, p) for n, p in enumerate(ids) if p not in mine]
                if not open_:
                    conn.execute("COMMIT")
                    return None
                ra, rb, key = min(open_)[3]
                left = self._random.choice((ra, rb))  # the side is random and recorded with the assignment
                cur = conn.execute("INSERT INTO assignments (rater, run_a, run_b, sample, left_run, created) "
                                   "VALUES (?, ?, ?, ?, ?, ?)", (rater, ra, rb, key, left, _now()))
                row = (cur.lastrowid, rater, ra, rb, key, left)
            conn.execute("COMMIT")
            return self._assignment(row)
        finally:
            conn.close()

    def vote(self, rater: str, assignment: int, answers: dict[str, str]) -> None:
        """Record the rater's answers ("left", "right" or, where allowed, "tie") to an assignment."""
        rater = check_rater(rater)
        allowed = ("left", "right", "tie") if self.ties else ("left", "right")
        if not isinstance(answers, dict) or set(answers) != set(QUESTION_IDS):
            raise VoteError(f"answers must give exactly {', '.join(QUESTION_IDS)}")
        bad = {q: v for q, v in answers.items() if v not in allowed}
        if bad:
            raise VoteError(f"each answer is one of {', '.join(allowed)}; got {bad}")
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT id, rater, run_a, run_b, sample, left_run FROM assignments WHERE id = ?",
                               (assignment,)).fetchone()
            if row is None or row[1] != rater:
                raise VoteError(f"no assignment {assignment} for this rater", 404)
            if conn.execute("SELECT 1 FROM votes WHERE assignment = ?", (assignment,)).fetchone():
                raise VoteError(f"assignment {assignment} is already answered", 409)
            left_is_a = row[5] == row[2]
            stored = {q: "tie" if v == "tie" else "a" if (v == "left") == left_is_a else "b" for q, v in answers.items()}
            conn.execute("INSERT INTO votes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (row[0], rater, row[2], row[3], row[4], row[5], stored["text"], stored["structure"],
                          stored["quality"], _now()))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def progress(self, rater: str) -> tuple[int, int]:
        """(items the rater judged, items in the study)."""
        conn = self._connection()
        try:
            done = conn.execute("SELECT COUNT(*) FROM votes WHERE rater = ?", (check_rater(rater),)).fetchone()[0]
        finally:
            conn.close()
        return done, len(self.study.items)
