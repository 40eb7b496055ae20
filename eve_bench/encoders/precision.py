"""The one precision vocabulary of eve-bench and the reference models: fp32, bf16, fp16.

Metrics (`--precision`, CLIP and ViCLIP alike), models (`precision=` model arg) and training
(`--precision` of the reference trainers) all name a dtype this way. fp32 is the default and
matches the official TGVE script; for the encoders, bf16 and fp16 run the forward passes under
torch autocast (weights stay float32, embeddings come back as float32), at the cost of a small
difference in each metric (docs/metrics-clip.md quotes it).

`auto` picks bf16 only where the device computes it natively (a GPU that supports it; a CPU with
AVX512-BF16 or AMX), fp32 elsewhere: emulated bf16 is several times slower than fp32 (0.3x on the
project's AVX2 CPU, against 3.2x faster on an AVX512-BF16 one).
"""

from __future__ import annotations

from contextlib import nullcontext
from functools import lru_cache
from pathlib import Path

PRECISIONS = ("fp32", "bf16", "fp16")
CHOICES = PRECISIONS + ("auto",)
# what accelerate calls them (its mixed_precision)
ACCELERATE = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}
# /proc/cpuinfo flags of CPUs that compute bfloat16 in hardware
_CPU_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def torch_dtype(precision: str):
    import torch

    check_name(precision)
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def check_name(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")


def resolve(precision: str, device: str) -> str:
    """`precision` for `device`: `auto` becomes bf16 where the device runs it natively, else fp32."""
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"


def native_bf16(device: str) -> bool:
    import torch

    kind = torch.device(device).type
    if kind == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if kind == "cpu":
        return bool(_cpu_flags() & _CPU_BF16_FLAGS)
    return False


@lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no way to tell, so no claim of native bf16
        return frozenset()
    return frozenset(word for line in text.splitlines() if line.startswith("flags") for word in line.split(":", 1)[1].split())


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

    return torch.autocast(torch.device(device).type, dtype=torch_dtype(precision))


def id_suffix(precision: str) -> str:
    """Appended to cache ids: fp32 keeps the ids (and caches) of before the option existed."""
    return "" if precision == "fp32" else f"|{precision}"
