"""An offline CLIP tokenizer built from the real CLIP byte-level BPE (shipped inside open_clip).

The `tiny` and `synth` presets cannot download `openai/clip-vit-*` tokenizers, so they build a
`transformers.CLIPTokenizer` from open_clip's `bpe_simple_vocab_16e6.txt.gz`, the same merge list
OpenAI's CLIP uses. The vocabulary is laid out exactly as CLIP's (256 byte symbols, the same 256
with an end-of-word marker, one entry per merge in merge order, then the two special tokens), so
with all merges it is CLIP's 49,408-entry vocabulary. `num_merges` keeps only the first merges:
a prefix of a BPE merge list is itself a valid BPE (rarer words split into more, still exact,
pieces), and it shrinks the text-encoder embedding table to fit the few-M parameter budget of the
small presets. Token ids below 512 + num_merges equal CLIP's ids; only the two special tokens move.

The tokenizer is saved with `save_pretrained` into the checkpoint and always re-loaded with
`CLIPTokenizer.from_pretrained(dir)` (transformers 5 ignores `vocab_file=` arguments).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

FULL_CLIP_MERGES = 49152 - 256 - 2  # 48,894 merges -> the 49,408-token CLIP vocabulary
BOS, EOS = "<|startoftext|>", "<|endoftext|>"


def clip_bpe_path() -> Path:
    """The CLIP BPE merge file shipped by open_clip."""
    try:
        import open_clip
    except ImportError as e:  # pragma: no cover - open_clip is a declared dependency
        raise RuntimeError("open_clip is needed for the CLIP BPE vocabulary: pip install open-clip-torch") from e
    path = Path(os.path.dirname(open_clip.__file__)) / "bpe_simple_vocab_16e6.txt.gz"
    if not path.exists():
        raise FileNotFoundError(f"open_clip does not ship {path.name} at {path}")
    return path


def _byte_symbols() -> list[str]:
    """GPT-2/CLIP's reversible byte -> printable unicode mapping, in CLIP's vocabulary order."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("\u00a1"), ord("\u00ac") + 1))
        + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    )
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for c in codes]


def clip_vocab_and_merges(num_merges: int | None = None) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """CLIP's (vocab, merges), keeping the first `num_merges` merges (None: all of them)."""
    n = FULL_CLIP_MERGES if num_merges is None else int(num_merges)
    if not 0 <= n <= FULL_CLIP_MERGES:
        raise ValueError(f"num_merges must be in [0, {FULL_CLIP_MERGES}], got {n}")
    lines = gzip.open(clip_bpe_path()).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 1 + n]]
    symbols = _byte_symbols()
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [BOS, EOS]
    return {t: i for i, t in enumerate(tokens)}, merges


def build_clip_tokenizer(num_merges: int | None = None, model_max_length: int = 77):
    """A `CLIPTokenizer` over the (possibly truncated) CLIP BPE; pad token = end-of-text, as in SD."""
    from transformers import CLIPTokenizer

    vocab, merges = clip_vocab_and_merges(num_merges)
    # model_max_length must be set: without it padding to max length overflows.
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=model_max_length)


def vocab_size_for(num_merges: int | None) -> int:
    return 512 + (FULL_CLIP_MERGES if num_merges is None else int(num_merges)) + 2
