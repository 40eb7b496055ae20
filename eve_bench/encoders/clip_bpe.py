"""The real OpenAI CLIP BPE vocabulary, built offline: the one CLIP tokenizer of eve-bench and the
reference models.

open_clip ships CLIP's merge list (`bpe_simple_vocab_16e6.txt.gz`); the vocabulary is derived from
it the way CLIP's tokenizer does: the 256 byte symbols, the same symbols with the end-of-word
marker `</w>`, one token per merge, then `<|startoftext|>` and `<|endoftext|>` (49408 ids). A
`transformers.CLIPTokenizer` over it produces the same ids as open_clip's tokenizer and as the
hub's `openai/clip-vit-*` tokenizers.

`num_merges` keeps only the first merges: a prefix of a BPE merge list is itself a valid BPE (rarer
words split into more, still exact, pieces), and it shrinks a text encoder's embedding table to fit
the few-M parameter budget of the small presets (the synth encoders, the reference's tiny and synth
backbones). Token ids below 512 + num_merges equal CLIP's ids; only the two special tokens move.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path

VOCAB_SIZE = 49408  # 2 x 256 byte symbols + 48894 merges + 2 specials
NUM_MERGES = VOCAB_SIZE - 2 * 256 - 2
BOS_ID, EOS_ID = VOCAB_SIZE - 2, VOCAB_SIZE - 1  # <|startoftext|>, <|endoftext|> of the whole vocabulary
BOS, EOS = "<|startoftext|>", "<|endoftext|>"


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


@lru_cache(maxsize=4)
def clip_bpe(num_merges: int | None = None) -> tuple[dict[str, int], list[str]]:
    """(vocab: token -> id, merges: "a b" lines) of the CLIP tokenizer, keeping its first
    `num_merges` merges (None: all of them)."""
    n = NUM_MERGES if num_merges is None else int(num_merges)
    if not 0 <= n <= NUM_MERGES:
        raise ValueError(f"num_merges must be in [0, {NUM_MERGES}], got {n}")
    lines = gzip.open(bpe_file()).read().decode("utf-8").split("\n")
    merges = lines[1 : n + 1]  # line 0 is a version header
    symbols = byte_symbols()
    tokens = symbols + [s + "</w>" for s in symbols] + [m.replace(" ", "") for m in merges] + [BOS, EOS]
    if len(set(tokens)) != vocab_size(n):
        raise ValueError(f"{bpe_file()} does not give CLIP's vocabulary")
    return {t: i for i, t in enumerate(tokens)}, merges


def vocab_size(num_merges: int | None = None) -> int:
    return 2 * 256 + (NUM_MERGES if num_merges is None else int(num_merges)) + 2


def clip_tokenizer(num_merges: int | None = None, model_max_length: int = 77):
    """A `CLIPTokenizer` over the (possibly truncated) CLIP BPE; pad token = end-of-text, as in SD."""
    from transformers import CLIPTokenizer

    vocab, merges = clip_bpe(num_merges)
    # model_max_length must be set: without it padding to max length overflows.
    return CLIPTokenizer(vocab=vocab, merges=[tuple(m.split(" ")) for m in merges], model_max_length=model_max_length)


def save_clip_tokenizer(directory: str | Path, num_merges: int | None = None, model_max_length: int | None = None):
    """Write vocab.json + merges.txt to `directory` and save the CLIPTokenizer read from them
    (tokenizer_config.json, special tokens, and tokenizer.json for the fast tokenizer)."""
    from transformers import CLIPTokenizer

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab, merges = clip_bpe(num_merges)
    (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    # transformers 5 ignores vocab_file= in the constructor; from_pretrained reads the files.
    limit = {} if model_max_length is None else {"model_max_length": model_max_length}
    tokenizer = CLIPTokenizer.from_pretrained(directory, **limit)
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
