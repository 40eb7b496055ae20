"""Tiny random-weight diffusers pipelines saved in the public formats, for the baseline tests.

Component configs follow diffusers' own fast tests (`get_dummy_components` in
tests/pipelines/...), shrunk where the CPU budget asks. Tokenizers cannot be downloaded, so the CLIP
one is built from the real CLIP BPE (eve_bench.encoders.clip_bpe) and the T5 one from a small unigram
vocabulary. Each folder is written with `save_pretrained` (safetensors), as the hub repos are.
"""

from __future__ import annotations

from pathlib import Path

import torch

CLIP_MERGES = 2000  # a prefix of CLIP's merges: a valid BPE with a 2,514-token vocabulary


def _clip_text(seed: int = 0):
    from transformers import CLIPTextConfig, CLIPTextModel

    from eve_bench.encoders.clip_bpe import clip_tokenizer, vocab_size

    torch.manual_seed(seed)
    config = CLIPTextConfig(bos_token_id=vocab_size(CLIP_MERGES) - 2, eos_token_id=vocab_size(CLIP_MERGES) - 1,
                            hidden_size=32, intermediate_size=37, layer_norm_eps=1e-05, num_attention_heads=4,
                            num_hidden_layers=2, pad_token_id=1, vocab_size=vocab_size(CLIP_MERGES))
    return CLIPTextModel(config).eval(), clip_tokenizer(CLIP_MERGES)


def _sd_vae(seed: int = 0):
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(block_out_channels=[32, 64], in_channels=3, out_channels=3,
                         down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
                         up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"], latent_channels=4, norm_num_groups=2)


def _sd_unet(in_channels: int, seed: int = 0):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    return UNet2DConditionModel(block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=in_channels,
                                out_channels=4, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
                                norm_num_groups=2)


def save_instruct_pix2pix(directory: str | Path) -> Path:
    """The timbrooks/instruct-pix2pix layout: an 8-channel UNet (noise + image latents), Euler ancestral."""
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionInstructPix2PixPipeline

    text_encoder, tokenizer = _clip_text()
    pipe = StableDiffusionInstructPix2PixPipeline(
        vae=_sd_vae(), text_encoder=text_encoder, tokenizer=tokenizer, unet=_sd_unet(8),
        scheduler=EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear"),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(directory)
    return Path(directory)


def save_sd15_and_motion_adapter(root: str | Path) -> tuple[Path, Path]:
    """An SD-1.5-layout text-to-image folder (StableDiffusionPipeline, as stable-diffusion-v1-5 is)
    and a MotionAdapter folder (as guoyww/animatediff-motion-adapter-v1-5-2 is), separately."""
    from diffusers import DDIMScheduler, MotionAdapter, StableDiffusionPipeline

    root = Path(root)
    text_encoder, tokenizer = _clip_text()
    StableDiffusionPipeline(
        vae=_sd_vae(), text_encoder=text_encoder, tokenizer=tokenizer, unet=_sd_unet(4),
        scheduler=DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="linear", clip_sample=False,
                                steps_offset=1),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    ).save_pretrained(root / "sd15")
    torch.manual_seed(1)
    MotionAdapter(block_out_channels=(32, 64), motion_layers_per_block=1, motion_norm_num_groups=2,
                  motion_num_attention_heads=2, motion_max_seq_length=32).save_pretrained(root / "motion_adapter")
    return root / "sd15", root / "motion_adapter"


def _t5(seed: int = 0):
    from transformers import T5TokenizerFast, UMT5Config, UMT5EncoderModel

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    pieces += [(c, -3.0) for c in "abcdefghijklmnopqrstuvwxyz.,'"]
    tokenizer = T5TokenizerFast(vocab=pieces, extra_ids=0)
    torch.manual_seed(seed)
    config = UMT5Config(vocab_size=len(pieces), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                        relative_attention_num_buckets=8)
    return UMT5EncoderModel(config).eval(), tokenizer


def _wan_parts(in_channels: int, seed: int = 0):
    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    torch.manual_seed(seed)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    torch.manual_seed(seed)
    transformer = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12,
                                        in_channels=in_channels, out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32,
                                        num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                                        rope_max_seq_len=32)
    return vae, transformer


def save_wan_v2v(directory: str | Path) -> Path:
    """The Wan-AI/Wan2.1-T2V-1.3B-Diffusers layout (WanPipeline in model_index.json; the adapter
    loads it as WanVideoToVideoPipeline), UMT5 text encoder, UniPC flow-matching scheduler."""
    from diffusers import UniPCMultistepScheduler, WanPipeline

    vae, transformer = _wan_parts(16)
    text_encoder, tokenizer = _t5()
    WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, transformer=transformer, vae=vae,
                scheduler=UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                                  flow_shift=3.0)).save_pretrained(directory)
    return Path(directory)


def save_lucy_edit(directory: str | Path) -> Path:
    """The decart-ai/Lucy-Edit-Dev layout: a Wan transformer whose input is the noise latents
    concatenated with the source video's latents (2 x 16 channels), flow-matching Euler."""
    from diffusers import FlowMatchEulerDiscreteScheduler, LucyEditPipeline

    vae, transformer = _wan_parts(32)
    text_encoder, tokenizer = _t5()
    LucyEditPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=transformer,
                     scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0)).save_pretrained(directory)
    return Path(directory)
