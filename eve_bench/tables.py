"""The one way eve-bench writes a table: markdown cells and tables, and CSV cells and files.

Text that reaches a table may come from a command line or a data file (model args, run paths,
prompts, rater names), so it is escaped on the way in: a markdown cell cannot end its row, start a
heading or inject markup, and a CSV cell cannot run as a spreadsheet formula.
"""

from __future__ import annotations

import csv
import html
import io
import re

# A number, or a mean with its interval ("-0.008 [-0.100, 0.079]"): a spreadsheet reads it as a
# value, never a formula, so a leading minus stays as it is.
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_NUMERIC = re.compile(rf"{_NUMBER}(?: \[{_NUMBER}, {_NUMBER}\])?")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def md_cell(value) -> str:
    """Text safe inside a markdown table cell: one line, no HTML, no table or link syntax."""
    text = " ".join(str(value).split())  # newlines and tabs would end the row or start a heading
    text = html.escape(text, quote=False)  # <img onerror=...> stays text
    # Table, code, emphasis, link and image syntax; "_" inside words (model_args) is left alone,
    # as markdown does not read it there.
    return re.sub(r"([\\`*\[\]|!~])", r"\\\1", text)


def md_table(header: list, body: list[list], escape: bool = True) -> list[str]:
    """A markdown table's lines. Every cell goes through `md_cell`, unless the caller made the cells
    itself (`escape=False`: numbers, fixed words, text it passed through `md_cell` already)."""
    cell = md_cell if escape else str
    return (["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(cell(c) for c in row) + " |" for row in body])


def csv_safe(value) -> str:
    """A CSV cell that a spreadsheet shows as text: one starting with = + - @ or a control
    character would run as a formula, so it gets a leading '; numbers are left as they are."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) and not _NUMERIC.fullmatch(text) else text


def csv_table(header: list, body: list[list]) -> str:
    """A CSV file's text: the header, then one line per row, every cell through `csv_safe`."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([csv_safe(h) for h in header])
    writer.writerows([[csv_safe(c) for c in row] for row in body])
    return buf.getvalue()
