"""The real OpenAI CLIP BPE vocabulary as Hugging Face tokenizer files, built offline.

open_clip ships CLIP's merge list (`bpe_simple_vocab_16e6.txt.gz`); the vocabulary is derived from
it the way CLIP's tokenizer does: the 256 byte symbols, the same symbols with the end-of-word
marker `</w>`, one token per merge, then `<|startoftext|>` and `<|endoftext|>` (49408 ids). Written
as `vocab.json` + `merges.txt`, `CLIPTokenizer.from_pretrained` reads them and produces the same
ids as open_clip's tokenizer and as the hub's `openai/clip-vit-*` tokenizers.

Used by the synthetic-suite encoders (`eve_bench/synth/train_encoders.py`); tests that need a
CLIP processor without the hub can use `save_clip_processor` too.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path

VOCAB_SIZE = 49408  # 2 x 256 byte symbols + 48894 merges + 2 specials
NUM_MERGES = VOCAB_SIZE - 2 * 256 - 2
BOS_ID, EOS_ID = VOCAB_SIZE - 2, VOCAB_SIZE - 1  # <|startoftext|>, <|endoftext|>


def byte_symbols() -> list[str]:
    """The printable character standing for each byte 0..255, in CLIP's (and GPT-2's) order.

    Bytes that are printable Latin-1 characters ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves
    and come first; the other 68 bytes map to code points 256, 257, ... in byte order.
    """
    printable = [b for b in range(256) if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255]
    others = [b for b in range(256) if b not in set(printable)]
    mapping = {b: chr(b) for b in printable}
    mapping.update({b: chr(256 + i) for i, b in enumerate(others)})
    return [mapping[b] for b in printable + others]


def bpe_file() -> Path:
    import open_clip

    return Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"


@lru_cache(maxsize=1)
def clip_bpe() -> tuple[dict[str, int], list[str]]:
    """(vocab: token -> id, merges: "a b" lines) of the real CLIP tokenizer."""
    lines = gzip.open(bpe_file()).read().decode("utf-8").split("\n")
    merges = lines[1 : NUM_MERGES + 1]  # line 0 is a version header
    symbols = byte_symbols()
    tokens = symbols + [s + "</w>" for s in symbols] + [m.replace(" ", "") for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    if len(tokens) != VOCAB_SIZE or len(set(tokens)) != VOCAB_SIZE:
        raise ValueError(f"{bpe_file()} does not give CLIP's {VOCAB_SIZE}-token vocabulary")
    return {t: i for i, t in enumerate(tokens)}, merges


def save_clip_tokenizer(directory: str | Path):
    """Write vocab.json + merges.txt to `directory` and save the CLIPTokenizer read from them
    (tokenizer_config.json, special tokens, and tokenizer.json for the fast tokenizer)."""
    from transformers import CLIPTokenizer

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab, merges = clip_bpe()
    (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    # transformers 5 ignores vocab_file= in the constructor; from_pretrained reads the files.
    tokenizer = CLIPTokenizer.from_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return tokenizer


def save_clip_processor(directory: str | Path, image_size: int) -> Path:
    """Save the CLIP tokenizer and a CLIPImageProcessor (CLIP mean/std, bicubic shortest-edge resize
    and centre crop to `image_size`) to `directory`, in the hub's layout (preprocessor_config.json
    beside the tokenizer files), which `AutoImageProcessor` / `AutoTokenizer` read."""
    from transformers import CLIPImageProcessor

    directory = Path(directory)
    save_clip_tokenizer(directory)
    CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    ).save_pretrained(directory)
    return directory
