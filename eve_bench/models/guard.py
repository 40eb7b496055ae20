"""Calling a model's `edit` so that whatever it does, the run ends with its results written.

A model runs in-process (it holds GPU memory and weights the harness cannot copy elsewhere), so
the guard cannot kill it. With a timeout, `edit` runs in a daemon thread and is abandoned once the
time is up; since the abandoned call may still hold the model, its locks and its memory, the run
stops there rather than calling the model again. `SystemExit` and `KeyboardInterrupt` raised inside
`edit` (a model calling `sys.exit`, or Ctrl-C while it runs) stop the run the same way, instead of
ending the process with no summary.
"""

from __future__ import annotations

import threading

from eve_bench.models.base import EditRequest


class ModelStopped(Exception):
    """The model's call ended the run (timed out, or raised SystemExit / KeyboardInterrupt)."""


def call_edit(model, request: EditRequest, timeout: float | None = None):
    """`model.edit(request)`; its ordinary exceptions propagate, and ending the run raises ModelStopped."""
    if timeout is None:
        return _unwrap(_call(model, request))
    box: list = []
    worker = threading.Thread(target=lambda: box.append(_call(model, request)), name="eve-bench-edit", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise ModelStopped(f"timed out after {timeout:g} s (--timeout); the call was abandoned and the run stopped")
    return _unwrap(box[0])


def _call(model, request: EditRequest) -> tuple[bool, object]:
    try:
        return True, model.edit(request)
    except BaseException as e:  # in a thread, a SystemExit would otherwise end only the thread, silently
        return False, e


def _unwrap(result: tuple[bool, object]):
    ok, value = result
    if ok:
        return value
    if isinstance(value, (SystemExit, KeyboardInterrupt)):
        raise ModelStopped(f"the model raised {type(value).__name__}({', '.join(map(repr, value.args))}); the run stopped") from None
    raise value  # type: ignore[misc]
