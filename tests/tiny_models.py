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


# Qwen2-VL's chat template, reduced to what the judge sends: system and user turns whose content
# is text, images and videos, then the assistant's turn.
QWEN_VL_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
QWEN_VL_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                          "<|image_pad|>", "<|video_pad|>")


def save_tiny_qwen2_5_vl(directory: str | Path, *, hidden: int = 32, seed: int = 0, init_std: float = 1.0,
                         min_pixels: int = 56 * 56, max_pixels: int = 112 * 112) -> Path:
    """Save a random-init Qwen2.5-VL (2 text and 2 vision layers, `hidden` wide) and its processor
    in the format of the hub's Qwen/Qwen2.5-VL-*-Instruct: safetensors, a byte-level BPE tokenizer
    (the 256 byte tokens and Qwen's special tokens, so "1".."5" and "A".."C" are one token each, as
    in Qwen's vocabulary), the Qwen2-VL image and video processors (patch 14, merge 2: sides are
    multiples of 28) and a chat template. `min_pixels` / `max_pixels` bound the processor's own resize.

    `init_std` is the weights' spread: at Qwen's 0.02 a net this small answers nearly the same
    whatever it is shown; at 1.0 its answers depend on the videos and their order, as a judge's do."""
    import torch
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor, Qwen2Tokenizer,
                              Qwen2VLImageProcessor, Qwen2VLVideoProcessor)
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    directory = Path(directory)
    vocab = {c: i for i, c in enumerate(bytes_to_unicode().values())}
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=[], unk_token=None, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.add_special_tokens({"additional_special_tokens": list(QWEN_VL_SPECIAL_TOKENS)})
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_VL_SPECIAL_TOKENS}
    pixels = {"min_pixels": min_pixels, "max_pixels": max_pixels}
    Qwen2_5_VLProcessor(image_processor=Qwen2VLImageProcessor(**pixels), video_processor=Qwen2VLVideoProcessor(**pixels),
                        tokenizer=tokenizer, chat_template=QWEN_VL_CHAT_TEMPLATE).save_pretrained(directory)
    head_dim = hidden // 2
    config = Qwen2_5_VLConfig(
        text_config={"vocab_size": len(tokenizer), "hidden_size": hidden, "intermediate_size": 2 * hidden,
                     "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
                     "max_position_embeddings": 4096, "initializer_range": init_std, "bos_token_id": None, "eos_token_id": ids["<|im_end|>"],
                     "pad_token_id": ids["<|endoftext|>"],
                     # multimodal rotary sections (time, height, width) over half the head dimension
                     "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0,
                                         "mrope_section": [head_dim // 4, head_dim // 8, head_dim // 8]}},
        vision_config={"depth": 2, "hidden_size": hidden, "intermediate_size": 2 * hidden, "num_heads": 2,
                       "out_hidden_size": hidden, "fullatt_block_indexes": [1], "window_size": 56,
                       "initializer_range": init_std},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(seed)
    Qwen2_5_VLForConditionalGeneration(config).eval().save_pretrained(directory)
    return directory
