"""`eve-bench human serve`: the pairwise rating page on the standard library's ThreadingHTTPServer.

No web framework: the app is two static files (page.html, page.js), two JSON endpoints and the
videos. What it answers:

- `GET /`, `GET /page.js`: the page.
- `GET /api/next?rater=NAME`: the rater's current assignment (videos as URLs, the output caption,
  the instruction, the questions, progress) or `{"done": true}`. Model names are never sent.
- `POST /api/vote` (JSON `{"rater", "assignment", "answers": {"text", "structure", "quality"}}`, each
  answer "left", "right" or, with --ties, "tie"): stored in one transaction; malformed -> 400, an
  assignment that is not the rater's -> 404, answered twice -> 409, each with a JSON `error`.
- `GET /media/out/<run>/<key>.mp4`, `GET /media/source/<key>.mp4`: looked up in the study's own
  tables (the runs' previews, the rebuilt inputs), never joined onto a path, so no request can
  reach any other file; and checked again when asked for (a preview swapped for a link since the
  start is not served: it must still lie in its folder, and is opened without following a link).

It binds 127.0.0.1 unless another --host is given, and answers only requests addressed to
localhost, an IP address or that --host (a page of another site that makes its name resolve to
127.0.0.1, DNS rebinding, is refused). Votes are POSTed as application/json, which a page on
another site cannot send without a CORS preflight this server never grants. A connection that
stalls is dropped after `TIMEOUT_S`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import stat
import sys
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from eve_bench.human.store import Assignment, Store, VoteError
from eve_bench.human.study import Study, load_study
from eve_bench.paths import is_within
from eve_bench.questions import QUESTIONS

MAX_BODY = 4096
MAX_ID = 2**63 - 1  # SQLite's largest integer: a larger assignment id is a bad request, not a crash
TIMEOUT_S = 30  # a connection silent this long is closed, so stalled clients cannot hold threads
LOOPBACK = ("127.0.0.1", "localhost", "::1")
STATIC = {"/": ("page.html", "text/html; charset=utf-8"), "/page.js": ("page.js", "text/javascript; charset=utf-8")}
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Only this server's own script runs; data reaches the page as text (textContent), never as markup.
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
}


@dataclass(frozen=True)
class ServeConfig:
    runs: list[str]
    db: Path
    host: str = "127.0.0.1"
    port: int = 8000
    ties: bool = False


def media_path(cfg_db: Path) -> Path:
    """Where the rebuilt input videos are kept: beside the database."""
    return Path(str(cfg_db) + ".media")


def _media_table(study: Study, media: Path) -> dict[str, tuple[Path, Path]]:
    """URL path -> (file, the folder it must lie in), for every video the page may ask for."""
    table = {}
    for i, (run, outputs) in enumerate(zip(study.runs, study.outputs)):
        for key, path in outputs.items():
            table[f"/media/out/{i}/{quote(key)}.mp4"] = (path, Path(run.path))
    for key, path in study.sources.items():
        table[f"/media/source/{quote(key)}.mp4"] = (path, media)
    return table


def read_confined(path: Path, root: Path) -> bytes | None:
    """The bytes of `path` if it is, at this moment, a regular file inside `root` whose last step is
    not a link; None otherwise. Non-blocking open: a FIFO put in its place cannot stall a thread."""
    if not is_within(path, root):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read() if stat.S_ISREG(os.fstat(f.fileno()).st_mode) else None


def host_allowed(header: str | None, bound: str) -> bool:
    """Whether a request's Host names this server: localhost, an IP address (DNS rebinding needs a
    name) or the --host it was started with. No Host header (HTTP/1.0) comes from no browser."""
    if header is None:
        return True
    host = header.strip()
    if host.startswith("["):  # [::1]:8000
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:  # name:8000
        host = host.partition(":")[0]
    if host.lower() in ("localhost", bound.lower()):
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def assignment_json(study: Study, a: Assignment, progress: tuple[int, int], ties: bool) -> dict:
    right = a.item.b if a.left == a.item.a else a.item.a
    prompts = study.prompts[a.item.key]
    return {
        "done": False, "assignment": a.id, "progress": list(progress), "ties": ties,
        "questions": [{"id": q.id, "text": q.prompt} for q in QUESTIONS],
        "source": f"/media/source/{quote(a.item.key)}.mp4" if a.item.key in study.sources else None,
        "left": f"/media/out/{a.left}/{quote(a.item.key)}.mp4",
        "right": f"/media/out/{right}/{quote(a.item.key)}.mp4",
        "caption": prompts.target_caption, "instruction": prompts.instruction,
    }


def make_handler(study: Study, store: Store, ties: bool, media_dir: Path, host: str) -> type[BaseHTTPRequestHandler]:
    media = _media_table(study, media_dir)

    class Handler(BaseHTTPRequestHandler):
        server_version = "eve-bench-human"
        sys_version = ""
        timeout = TIMEOUT_S

        def log_message(self, format, *args):  # one line per request is noise for a rating session
            pass

        def _send(self, status: int, body: bytes, content_type: str, extra: dict | None = None) -> None:
            self.send_response(status)
            for k, v in {**HEADERS, "Content-Type": content_type, "Content-Length": str(len(body)),
                         "Cache-Control": "no-store", **(extra or {})}.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, obj: dict) -> None:
            self._send(status, json.dumps(obj).encode(), "application/json")

        def _error(self, status: int, message: str) -> None:
            self._json(status, {"error": message})

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if not host_allowed(self.headers.get("Host"), host):
                self._error(400, "this server answers only requests for localhost, an IP address or its --host")
            elif url.path in STATIC:
                name, kind = STATIC[url.path]
                self._send(200, files("eve_bench.human").joinpath(name).read_bytes(), kind)
            elif url.path == "/api/next":
                self._next(parse_qs(url.query).get("rater", [""])[0])
            elif url.path in media:
                self._file(*media[url.path])
            else:
                self._error(404, "not found")

        do_HEAD = do_GET

        def _next(self, rater: str) -> None:
            try:
                a = store.next_assignment(rater)
                progress = store.progress(rater)
            except VoteError as e:
                return self._error(e.status, str(e))
            self._json(200, {"done": True, "progress": list(progress)} if a is None else assignment_json(study, a, progress, ties))

        def _file(self, path: Path, root: Path) -> None:
            data = read_confined(path, root)  # previews are small; a Range answer lets the browser seek and loop
            if data is None:
                return self._error(404, "not found")
            start, end = 0, len(data) - 1
            spec = self.headers.get("Range", "")
            if spec.startswith("bytes=") and "," not in spec:
                first, _, last = spec[6:].partition("-")
                try:
                    start, end = (int(first), min(int(last or end), end)) if first else (max(0, len(data) - int(last)), end)
                except ValueError:
                    start, end = 0, len(data) - 1
                if start > end:
                    return self._send(416, b"", "video/mp4", {"Content-Range": f"bytes */{len(data)}"})
                return self._send(206, data[start:end + 1], "video/mp4",
                                  {"Content-Range": f"bytes {start}-{end}/{len(data)}", "Accept-Ranges": "bytes"})
            self._send(200, data, "video/mp4", {"Accept-Ranges": "bytes"})

        def do_POST(self) -> None:
            if not host_allowed(self.headers.get("Host"), host):
                return self._error(400, "this server answers only requests for localhost, an IP address or its --host")
            if urlsplit(self.path).path != "/api/vote":
                return self._error(404, "not found")
            if self.headers.get_content_type() != "application/json":
                return self._error(415, "votes are sent as application/json")
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                return self._error(411, "Content-Length is required")
            if not 0 < length <= MAX_BODY:
                return self._error(413, f"a vote is at most {MAX_BODY} bytes")
            try:
                body = json.loads(self.rfile.read(length))
            except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deep to parse
                return self._error(400, "the body is not JSON")
            assignment = body.get("assignment") if isinstance(body, dict) else None
            if not isinstance(assignment, int) or isinstance(assignment, bool) or not 0 <= assignment <= MAX_ID:
                return self._error(400, 'a vote is {"rater": NAME, "assignment": ID, "answers": {...}}')
            try:
                store.vote(body.get("rater"), body["assignment"], body.get("answers"))
                self._json(200, {"ok": True, "progress": list(store.progress(body["rater"]))})
            except VoteError as e:
                self._error(e.status, str(e))

    return Handler


def make_server(cfg: ServeConfig) -> ThreadingHTTPServer:
    """The bound server (port 0: any free port; see server.server_address); the caller serves and closes it."""
    study = load_study(cfg.runs, media_path(cfg.db))
    store = Store(cfg.db, study, cfg.ties)
    try:
        server = ThreadingHTTPServer((cfg.host, cfg.port), make_handler(study, store, cfg.ties, media_path(cfg.db), cfg.host))
    except OSError as e:  # port taken, unknown host: one line, not a traceback
        raise ValueError(f"cannot listen on {cfg.host}:{cfg.port}: {e.strerror or e}") from None
    server.daemon_threads = True
    return server


def serve(cfg: ServeConfig) -> None:
    server = make_server(cfg)
    host, port = server.server_address[:2]
    if cfg.host not in LOOPBACK:
        print(f"eve-bench human: WARNING: listening on {cfg.host}, reachable from other machines", file=sys.stderr)
    print(f"eve-bench human: serving http://{host}:{port}/ ; votes in {cfg.db} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
