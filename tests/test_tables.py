"""The one markdown and CSV escape (eve_bench.tables) and the one precision vocabulary."""

from __future__ import annotations

import pytest

from eve_bench.encoders import precision
from eve_bench.tables import csv_safe, csv_table, md_cell, md_table


@pytest.mark.parametrize("text", ["=1+1", "+cmd", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "\tx", "\rx", "-x", "- 1"])
def test_a_cell_that_would_run_as_a_formula_stays_text(text):
    assert csv_safe(text) == "'" + text


@pytest.mark.parametrize("value", ["-0.008", "-0.008 [-0.100, 0.079]", "1e-05", "-2.5e-07", "12.3 [11.8, 12.9]",
                                   -0.25, 3, True, "", "model", "–"])
def test_numbers_and_plain_text_are_left_alone(value):
    assert csv_safe(value) == str(value)


def test_csv_table_escapes_every_cell_and_md_table_every_cell_unless_told():
    assert csv_table(["a", "=b"], [["-1", "=c"]]) == "a,'=b\n-1,'=c\n"
    assert md_cell("a|b <i>\nc [x]") == r"a\|b &lt;i&gt; c \[x\]"
    assert md_table(["h|"], [["x|"]]) == [r"| h\| |", "|---|", r"| x\| |"]
    assert md_table(["h"], [["1 [0, 2]"]], escape=False) == ["| h |", "|---|", "| 1 [0, 2] |"]


def test_auto_precision_is_bf16_only_where_the_device_runs_it_natively(monkeypatch):
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    assert precision.resolve("auto", "cpu") == "fp32"
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx2", "avx512_bf16"}))
    assert precision.resolve("auto", "cpu") == "bf16"
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"amx_bf16"}))
    assert precision.resolve("auto", "cpu") == "bf16"
    assert precision.resolve("fp16", "cpu") == "fp16"  # an explicit choice is kept


def test_one_vocabulary_for_metrics_models_and_training():
    import torch

    from reference.training import TrainConfig

    assert [precision.torch_dtype(p) for p in precision.PRECISIONS] == [torch.float32, torch.bfloat16, torch.float16]
    assert [TrainConfig(precision=p).mixed_precision for p in precision.PRECISIONS] == ["no", "bf16", "fp16"]
    with pytest.raises(ValueError, match="fp32, bf16, fp16"):
        precision.torch_dtype("float16")
