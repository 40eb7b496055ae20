"""The errors eve-bench reports as exit status 2: the input or the environment is at fault (bad
arguments, data, weights, a locked or foreign run folder, a failed write), never the model under
test. Every layer raises them from here, so the command line maps them in one place (`USER_ERRORS`)."""

from __future__ import annotations

import unicodedata

# Unicode categories that print as nothing or move the text around: control (C0, C1), format
# (bidi overrides, zero-width), line and paragraph separators, surrogates.
INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


class UnknownNameError(KeyError):
    """A model, suite or metric name that no registry knows and no import path reaches."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class SuiteError(ValueError):
    """A suite cannot be built from the data given (missing files, unknown fields or tasks)."""


class MissingWeightsError(RuntimeError):
    """Weights a metric or model needs are not available locally."""


class WeightsError(ValueError):
    """Weights were given but cannot be used: corrupt, not weights, or a pickle (which could run
    code, so eve-bench never loads one). Unlike missing default weights, never skipped."""


class ModelNotReadyError(RuntimeError):
    """A model exists but cannot run yet (e.g. its weights are not trained or not found)."""


class VideoReadError(RuntimeError):
    """A video file or frame folder is missing, empty, not a regular file or cannot be decoded.
    A source's is bad data; an output's fails its sample (scoring catches it there)."""


class RunError(RuntimeError):
    """The run cannot start or go on: its folder, data or environment is at fault, not the model.
    Nothing is counted against the model; finished samples stay on disk for a re-run to resume."""


# ValueError covers bad arguments; FileNotFoundError a path given that does not exist.
USER_ERRORS = (SuiteError, RunError, UnknownNameError, MissingWeightsError, ModelNotReadyError, VideoReadError,
               FileNotFoundError, ValueError)


def one_line(e: BaseException, limit: int = 400) -> str:
    """An exception's message on one line (strict state-dict errors list every key on its own)."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def printable(text: str) -> str:
    """`text` on one line with nothing invisible in it: line breaks become spaces and any other
    control, format or separator character its escape (`\\u202e`). A file name or an argument
    quoted in a message can then neither start a line of its own (forging an `eve-bench: error:`)
    nor reorder what is shown."""
    line = " ".join(text.splitlines())
    return "".join(c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in INVISIBLE else c for c in line)
