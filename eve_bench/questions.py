"""EVE's human evaluation asks three questions (paper section 5.4, after TGVE): a rater sees the
input video, the output caption and two edits side by side, and says which edit is better on each.

The one list of them: the rating page and its votes use `id`, the published tables and the
ground-truth judge (eve_bench.reports.gt_preference) `name`, and the paper's tables print `header`.
The tables' last preference column, Avg., is the mean over the three.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    id: str  # as votes store it
    name: str  # as the paper names it (results.yaml's keys)
    header: str  # its column, as the paper's tables print it
    prompt: str  # what the rating page asks


TEXT = Question("text", "Text", "Text", "Text alignment: which video better matches the caption?")
STRUCTURE = Question("structure", "Structure", "Struct.",
                     "Structure: which video better preserves the structure of the input video?")
QUALITY = Question("quality", "Quality", "Quality", "Quality: aesthetically, which video is better?")
QUESTIONS = (TEXT, STRUCTURE, QUALITY)

QUESTION_IDS = tuple(q.id for q in QUESTIONS)
QUESTION_NAMES = tuple(q.name for q in QUESTIONS)
AVG = "Avg"
PREFERENCE_COLUMNS = QUESTION_NAMES + (AVG,)  # a preference table's columns
PREFERENCE_HEADERS = tuple(q.header for q in QUESTIONS) + ("Avg.",)  # the same, as printed
