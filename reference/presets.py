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

PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        name="tiny",
        resolution=32,
        num_frames=4,
        num_merges=2000,
        vae=dict(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 3,
            up_block_types=("UpDecoderBlock2D",) * 3,
            block_out_channels=(16, 32, 32),
            layers_per_block=1,
            latent_channels=4,
            norm_num_groups=8,
            sample_size=32,
        ),
        unet=dict(
            sample_size=8,
            in_channels=4,
            out_channels=4,
            block_out_channels=(32, 64),
            layers_per_block=1,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=32,
            attention_head_dim=8,
            norm_num_groups=8,
        ),
        text=dict(
            hidden_size=32,
            intermediate_size=64,
            num_attention_heads=4,
            num_hidden_layers=2,
            max_position_embeddings=77,
        ),
        scheduler=dict(_SCHED_ZSNR),
        edit=dict(condition="latent", conditioning_channels=4, conditioning_embedding_out_channels=(16,)),
        motion=dict(
            block_out_channels=(32, 64),
            motion_layers_per_block=1,
            motion_norm_num_groups=8,
            motion_num_attention_heads=2,
            motion_max_seq_length=8,
            use_motion_mid_block=False,
        ),
    ),
    "synth": Preset(
        name="synth",
        resolution=64,
        num_frames=8,
        num_merges=4000,
        vae=dict(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 3,
            up_block_types=("UpDecoderBlock2D",) * 3,
            block_out_channels=(32, 64, 64),
            layers_per_block=1,
            latent_channels=4,
            norm_num_groups=16,
            sample_size=64,
        ),
        unet=dict(
            sample_size=16,
            in_channels=4,
            out_channels=4,
            block_out_channels=(32, 64, 128),
            layers_per_block=1,
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=64,
            attention_head_dim=16,
            norm_num_groups=16,
        ),
        text=dict(
            hidden_size=64,
            intermediate_size=256,
            num_attention_heads=4,
            num_hidden_layers=3,
            max_position_embeddings=77,
        ),
        scheduler=dict(_SCHED_ZSNR),
        edit=dict(condition="latent", conditioning_channels=4, conditioning_embedding_out_channels=(32,)),
        motion=dict(
            block_out_channels=(32, 64, 128),
            motion_layers_per_block=1,
            motion_norm_num_groups=16,
            motion_num_attention_heads=4,
            motion_max_seq_length=16,
            use_motion_mid_block=False,
        ),
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
