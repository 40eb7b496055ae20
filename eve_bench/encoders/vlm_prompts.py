"""The VLM judge's prompts: versioned YAML files (`prompts/vlm-<version>.yaml`), rendered into
the conversations `eve_bench.encoders.vlm.VlmJudge` asks.

A prompt set holds a system message, the line that carries an instruction, and two kinds of
question: `rate` (one edit on a 1-5 scale, the per-sample metrics) and `compare` (two edits, the
pairwise judge). Each has a layout (text and videos by role, in the order the model reads them)
and the answer tokens whose probabilities are read. The rating questions are EVE's three human
questions restated on a scale; the comparison asks the human study's own wording
(`eve_bench.questions`), so that the judge answers exactly what the raters were asked.

`PromptSet.id` is the version and a hash of the file's bytes and of the human wording, so a
prompt edited in place (or a changed question) never reuses a cached answer.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from eve_bench.hashing import json_hash
from eve_bench.questions import QUESTION_IDS, QUESTIONS, Question
from eve_bench.video import Video

PROMPTS_DIR = Path(__file__).parent / "prompts"
DEFAULT_VERSION = "v1"
# The videos each kind of question shows, by role.
ROLES = {"rate": ("source", "edited"), "compare": ("source", "first", "second")}
PLACEHOLDERS = frozenset({"instruction", "caption", "question"})


@dataclass(frozen=True)
class Prompt:
    """One question to a VLM: its system message and the user message's parts in order, each a
    text or a video."""

    system: str
    parts: tuple[str | Video, ...]

    @property
    def videos(self) -> list[Video]:
        return [p for p in self.parts if isinstance(p, Video)]


@dataclass(frozen=True)
class _Kind:
    answers: tuple[str, ...]
    layout: tuple[str | dict, ...]  # text templates, and {"video": role}
    questions: Mapping[str, str]  # question id -> its text; empty for compare (the human wording)


@dataclass(frozen=True)
class PromptSet:
    version: str
    system: str
    instruction: str  # the line that holds {instruction}, left out where a sample has none
    rate: _Kind
    compare: _Kind
    digest: str  # of the file's bytes and the human questions' wording

    @property
    def id(self) -> str:
        return f"{self.version}:{self.digest[:8]}"

    @classmethod
    def load(cls, spec: str | None = None) -> "PromptSet":
        """A shipped version ("v1") or a YAML file of the same form."""
        import yaml

        spec = spec or DEFAULT_VERSION
        path = Path(spec) if spec.endswith((".yaml", ".yml")) else PROMPTS_DIR / f"vlm-{spec}.yaml"
        if not path.is_file():
            shipped = ", ".join(sorted(p.stem.removeprefix("vlm-") for p in PROMPTS_DIR.glob("vlm-*.yaml")))
            raise FileNotFoundError(f"VLM prompts {spec!r}: no file {path} (shipped versions: {shipped}; or a .yaml path)")
        text = path.read_text()
        try:
            raw = yaml.safe_load(text)
            kinds = {kind: _kind(raw[kind], kind) for kind in ROLES}
            prompts = cls(str(raw["version"]), str(raw["system"]), str(raw["instruction"]), kinds["rate"],
                          kinds["compare"], json_hash([text, [q.prompt for q in QUESTIONS]], length=64))
        except (KeyError, TypeError, ValueError, yaml.YAMLError) as e:
            raise ValueError(f"VLM prompts {path}: {type(e).__name__}: {e}") from e
        _check_template(prompts.instruction, {"instruction"}, "instruction")
        return prompts

    def rating(self, question: Question, instruction: str | None, caption: str, source: Video, edited: Video) -> Prompt:
        return self._render(self.rate, self.rate.questions[question.id], instruction, caption,
                            {"source": source, "edited": edited})

    def comparison(self, question: Question, instruction: str | None, caption: str, source: Video, first: Video,
                   second: Video) -> Prompt:
        return self._render(self.compare, question.prompt, instruction, caption,
                            {"source": source, "first": first, "second": second})

    def _render(self, kind: _Kind, question: str, instruction: str | None, caption: str, videos: dict) -> Prompt:
        fields = {"instruction": self.instruction.format(instruction=instruction) if instruction else "",
                  "caption": caption, "question": question}
        return Prompt(self.system, tuple(videos[part["video"]] if isinstance(part, dict) else part.format(**fields)
                                         for part in kind.layout))


def _kind(raw: dict, kind: str) -> _Kind:
    answers = tuple(str(a) for a in raw["answers"])
    layout = tuple(raw["layout"])
    questions = dict(raw.get("questions") or {})
    roles = [p["video"] for p in layout if isinstance(p, dict)]
    if sorted(roles) != sorted(ROLES[kind]):
        raise ValueError(f"{kind}: the layout shows videos {roles}, expected each of {', '.join(ROLES[kind])} once")
    for part in layout:
        if not isinstance(part, dict):
            _check_template(str(part), PLACEHOLDERS, kind)
    expected_answers = 5 if kind == "rate" else 3  # scores 1-5; first, second, tie
    if len(answers) != expected_answers or len(set(answers)) != len(answers):
        raise ValueError(f"{kind}: expected {expected_answers} distinct answers, got {list(answers)}")
    if kind == "rate" and sorted(questions) != sorted(QUESTION_IDS):
        raise ValueError(f"rate: expected a question for each of {', '.join(QUESTION_IDS)}, got {sorted(questions)}")
    return _Kind(answers, layout, questions)


def _check_template(text: str, allowed: set | frozenset, where: str) -> None:
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    if names - allowed:
        raise ValueError(f"{where}: unknown placeholder(s) {sorted(names - allowed)} (known: {sorted(allowed)})")
