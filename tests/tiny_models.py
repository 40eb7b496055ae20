"""Tiny random-init models saved in the real Hugging Face formats, for tests and benchmarks.

The weights are random, so scores mean nothing; what these exercise is everything around the
network: loading from a directory with `from_pretrained`, the processor (real CLIP BPE vocabulary,
real image-processor config), batching, caching and the metric formulas.
"""

from __future__ import annotations

from pathlib import Path

from eve_bench.encoders.clip_bpe import BOS_ID, EOS_ID, VOCAB_SIZE, save_clip_tokenizer
from eve_bench.encoders.clip_bpe import save_clip_processor as save_hub_layout_processor


def save_clip_processor(directory: str | Path, image_size: int = 64, hub_layout: bool = False) -> Path:
    """Save a CLIP processor (CLIP mean/std, shortest-edge resize + centre crop to `image_size`,
    the real CLIP tokenizer) to `directory`.

    `hub_layout` writes the image processor and the tokenizer separately (preprocessor_config.json,
    tokenizer.json, ...) as the hub repos hold them; otherwise CLIPProcessor.save_pretrained writes
    the layout of the installed transformers (processor_config.json in version 5).
    """
    from transformers import CLIPImageProcessor, CLIPProcessor

    if hub_layout:
        return save_hub_layout_processor(directory, image_size)
    tokenizer = save_clip_tokenizer(directory)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(directory)
    return Path(directory)


def save_tiny_clip(
    directory: str | Path,
    *,
    image_size: int = 64,
    patch_size: int = 16,
    hidden: int = 32,
    projection_dim: int = 16,
    seed: int = 0,
    with_processor: bool = True,
) -> Path:
    """Save a random-init CLIPModel (2 layers, `hidden` wide) with `save_pretrained`, plus its
    processor unless `with_processor` is False (as PickScore_v1, whose processor lives elsewhere)."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    directory = Path(directory)
    layers = {"hidden_size": hidden, "intermediate_size": 2 * hidden, "num_hidden_layers": 2,
              "num_attention_heads": 2}
    config = CLIPConfig(
        text_config={**layers, "vocab_size": VOCAB_SIZE, "max_position_embeddings": 77,
                     "bos_token_id": BOS_ID, "eos_token_id": EOS_ID, "pad_token_id": 1},
        vision_config={**layers, "image_size": image_size, "patch_size": patch_size},
        projection_dim=projection_dim,
    )
    torch.manual_seed(seed)
    CLIPModel(config).eval().save_pretrained(directory)
    if with_processor:
        save_clip_processor(directory, image_size=image_size)
    return directory
