"""`--precision`: the dtype encoders compute in. fp32 is the default and matches the official
TGVE script; bf16 and fp16 run the forward passes under torch autocast (weights stay float32,
embeddings come back as float32), several times faster on CPUs with AMX and on GPUs, at the cost
of a small difference in each metric (docs/metrics-clip.md quotes it)."""

from __future__ import annotations

from contextlib import nullcontext

PRECISIONS = ("fp32", "bf16", "fp16")


def check(precision: str, device: str) -> None:
    """ValueError when `device` cannot autocast to `precision`."""
    if precision not in PRECISIONS:
        raise ValueError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return
    import torch
    from torch.amp.autocast_mode import is_autocast_available

    kind = torch.device(device).type
    if not is_autocast_available(kind):
        raise ValueError(f"--precision {precision}: torch cannot autocast on {device}; use fp32")
    if kind == "cuda" and precision == "bf16" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"--precision bf16: {device} does not support bfloat16; use fp16 or fp32")


def autocast(precision: str, device: str):
    """The context the encoders' forward passes run in."""
    if precision == "fp32":
        return nullcontext()
    import torch

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return torch.autocast(torch.device(device).type, dtype=dtype)


def id_suffix(precision: str) -> str:
    """Appended to cache ids: fp32 keeps the ids (and caches) of before the option existed."""
    return "" if precision == "fp32" else f"|{precision}"
