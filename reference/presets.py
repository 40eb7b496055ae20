"""Model presets: the architecture of every part for `tiny`, `synth` and `sd15`.

`tiny` is for tests (trains in seconds on a 2-core CPU, sizes from anchors-model section 9.2);
`synth` is the reference model for the synthetic world (64x64 RGB frames, a few M parameters in
all); `sd15` loads Stable Diffusion 1.5 and its public adapters from local diffusers directories
(see `reference.checkpoint.load_sd15`), so its entries only describe how the parts are wired.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field


@dataclass
class Preset:
    name: str
    resolution: int  # square frame size in pixels the model works at
    num_frames: int  # clip length the video adapter is trained on (the sampling window)
    num_merges: int | None  # CLIP BPE merges kept by the tokenizer (None: the full CLIP vocabulary)
    vae: dict = field(default_factory=dict)  # AutoencoderKL kwargs
    unet: dict = field(default_factory=dict)  # UNet2DConditionModel kwargs
    text: dict = field(default_factory=dict)  # CLIPTextConfig kwargs (vocab_size is set from num_merges)
    scheduler: dict = field(default_factory=dict)  # DDPMScheduler kwargs (training noise schedule)
    edit: dict = field(default_factory=dict)  # ControlNetModel.from_unet kwargs + "condition"
    motion: dict = field(default_factory=dict)  # MotionAdapter kwargs
    first_frame_conditioning: bool = True  # video adapter conditioned on a clean first frame


_SCHED_ZSNR = dict(
    num_train_timesteps=1000,
    beta_schedule="scaled_linear",
    beta_start=0.00085,
    beta_end=0.012,
    clip_sample=False,
    prediction_type="v_prediction",
    rescale_betas_zero_snr=True,  # the paper enforces zero-terminal SNR when training the adapters
)


def _from_scratch(
    name: str,
    *,
    resolution: int,
    num_frames: int,
    num_merges: int,
    norm_groups: int,
    latent_channels: int,
    vae_channels: tuple[int, ...],
    unet_channels: tuple[int, ...],
    head_dim: int,
    text_width: int,
    text_ffn: int,
    text_layers: int,
    control_embedding_channels: tuple[int, ...],
    motion_heads: int,
    motion_max_seq_length: int,
) -> Preset:
    """A small SD1.5-shaped model trained from scratch. The arguments are everything that differs
    between such presets; the wiring constraints between parts are derived here, so two presets
    cannot drift apart on them."""
    depth = len(unet_channels)
    return Preset(
        name=name,
        resolution=resolution,
        num_frames=num_frames,
        num_merges=num_merges,
        vae=dict(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * len(vae_channels),
            up_block_types=("UpDecoderBlock2D",) * len(vae_channels),
            block_out_channels=vae_channels,
            layers_per_block=1,
            latent_channels=latent_channels,
            norm_num_groups=norm_groups,
            sample_size=resolution,
        ),
        unet=dict(
            sample_size=resolution // 2 ** (len(vae_channels) - 1),  # the VAE's latent size
            in_channels=latent_channels,  # the UNet and the latent edit condition read VAE latents
            out_channels=latent_channels,
            block_out_channels=unet_channels,
            layers_per_block=1,
            # cross-attention on every level but the deepest, as in SD1.5
            down_block_types=("CrossAttnDownBlock2D",) * (depth - 1) + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * (depth - 1),
            cross_attention_dim=text_width,
            # diffusers' UNet2DConditionModel reads `attention_head_dim` as the number of heads (a
            # naming bug it keeps for old configs), so pass heads per level for a true `head_dim`.
            # Taking the number literally gave 16 heads of width 2 on 32 channels: weaker, and
            # 2.4x slower to train on a CPU, where the attention kernels dominated the step.
            attention_head_dim=tuple(c // head_dim for c in unet_channels),
            norm_num_groups=norm_groups,
        ),
        text=dict(
            hidden_size=text_width,
            intermediate_size=text_ffn,
            num_attention_heads=4,
            num_hidden_layers=text_layers,
            max_position_embeddings=77,
        ),
        scheduler=dict(_SCHED_ZSNR),
        edit=dict(
            condition="latent",
            conditioning_channels=latent_channels,
            conditioning_embedding_out_channels=control_embedding_channels,
        ),
        motion=dict(
            block_out_channels=unet_channels,  # a MotionAdapter must match its UNet's levels
            motion_layers_per_block=1,
            motion_norm_num_groups=norm_groups,
            motion_num_attention_heads=motion_heads,
            motion_max_seq_length=motion_max_seq_length,
            use_motion_mid_block=False,
        ),
    )


PRESETS: dict[str, Preset] = {
    "tiny": _from_scratch(
        "tiny", resolution=32, num_frames=4, num_merges=2000, norm_groups=8, latent_channels=4,
        vae_channels=(16, 32, 32), unet_channels=(32, 64), head_dim=16,
        text_width=32, text_ffn=64, text_layers=2,
        control_embedding_channels=(16,), motion_heads=2, motion_max_seq_length=8,
    ),
    "synth": _from_scratch(
        "synth", resolution=64, num_frames=8, num_merges=4000, norm_groups=16,
        # 8 latent channels at 4x downsampling (6x compression) rather than SD's 4 (12x): the
        # 4-channel VAE of the first shipped model ended near 19 dB after 600 steps, too blurry for
        # fine checkerboards; 8 channels trained ~10 % lower loss over the first 200 steps
        latent_channels=8,
        vae_channels=(32, 64, 64), unet_channels=(32, 64, 128), head_dim=16,
        text_width=64, text_ffn=256, text_layers=3,
        control_embedding_channels=(32,), motion_heads=4, motion_max_seq_length=16,
    ),
    # SD1.5: architecture comes from the local diffusers directories; the public adapters are
    # lllyasviel/control_v11e_sd15_ip2p (pixel-conditioned ControlNet, images in [0, 1]) and
    # guoyww/animatediff-motion-adapter-v1-5-* (not first-frame conditioned).
    "sd15": Preset(
        name="sd15",
        resolution=512,
        num_frames=16,
        num_merges=None,
        edit=dict(condition="pixel"),
        first_frame_conditioning=False,
    ),
}


def get_preset(name: str) -> Preset:
    try:
        return copy.deepcopy(PRESETS[name])
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
