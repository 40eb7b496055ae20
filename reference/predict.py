"""Every model's prediction as a plain function of (x_t, t), and DDIM on explicit timesteps.

The samplers (`reference.sampling`) and the FDD trainer (`reference.fdd`) are both built on these
functions; none of them holds a private copy of a forward pass. Each returns the model output in
the backbone's prediction type ("epsilon" or "v_prediction"), classifier-free guided; `to_x0` /
`to_eps` convert. They run with or without gradients: the caller decides (`torch.no_grad()` for
sampling and for the frozen teachers, gradients for the student's rollout).

- `image_prediction`: the text-to-image backbone θ alone, text CFG.
- `edit_prediction`: the edit teacher ψ = θ + θ_edit on frames (N, C, h, w), each frame independent,
  3-way CFG (InstructPix2Pix): e = e(-,-) + s_img (e(img,-) - e(-,-)) + s_txt (e(img,txt) - e(img,-)).
- `video_prediction`: the video teacher ρ = θ + θ_video on clips (B, C, F, h, w), text CFG.
- `stack_prediction`: both adapters on one backbone, the motion UNet with per-frame ControlNet
  residuals, 3-way CFG: plug-and-play (η) with the align LoRA off, the EVE student (φ) with it on.

Guidance scales of 1 reduce CFG to its conditional branch, which is then the only one computed.

Timesteps `t` are a 0-dim tensor (one for the batch) or one per row of x (frames for
`edit_prediction`, clips otherwise).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from reference.edit_adapter import controlnet_residuals, edit_condition, instruction_text
from reference.video_adapter import frames_to_batch, motion_forward


# ---------------------------------------------------------------------- conditioning
@dataclass
class EditConditioning:
    """What the edit adapter is given, for B clips of F frames (F = 1 for single images), laid out
    for 3-way CFG in the order (image + text, image only, neither), frames clip-major:
    `image` (3BF, ...) the ControlNet image condition, zero for the third branch;
    `instruction` (3BF, L, D) the instruction embeddings, the empty text's for the last two;
    `caption` (B, L, D) the output captions (the backbone's text); `empty` (1, L, D)."""

    image: torch.Tensor
    instruction: torch.Tensor
    caption: torch.Tensor
    empty: torch.Tensor
    num_frames: int

    @property
    def num_clips(self) -> int:
        return self.caption.shape[0]

    def branch(self, k: int) -> "EditConditioning":
        """The first k CFG branches only (k = 1: the conditional branch)."""
        n = self.num_clips * self.num_frames
        return EditConditioning(self.image[: k * n], self.instruction[: k * n], self.caption, self.empty, self.num_frames)


def encode_prompts(backbone, prompts: list[str]) -> torch.Tensor:
    return backbone.encode_text(list(prompts)).to(backbone.dtype)


def edit_conditioning(model, frames: torch.Tensor, instructions: list[str], captions: list[str],
                      tasks: list[str | None], controlnet=None) -> EditConditioning:
    """Edit-adapter inputs for [-1, 1] frames (B*F, 3, R, R), clip-major, and one instruction,
    output caption and task per clip. `controlnet` defaults to the checkpoint's edit adapter."""
    if (controlnet or model.edit_adapter) is None:
        raise RuntimeError("this checkpoint has no edit adapter (train it: python -m reference.train_edit_adapter)")
    bb, cfg = model.backbone, model.config
    b = len(instructions)
    if frames.shape[0] % b:
        raise ValueError(f"{frames.shape[0]} frames do not split into {b} clips")
    f = frames.shape[0] // b
    cond = edit_condition(bb, frames.to(bb.device, bb.dtype), cfg.edit_condition)
    instr = [instruction_text(i, task, cfg.task_label) for i, task in zip(instructions, tasks)]
    # one text-encoder batch, instructions then "" then captions, as the samplers always encoded them
    txt = encode_prompts(bb, instr + [""] + [c or "" for c in captions])
    empty = txt[b : b + 1]
    per_frame = txt[:b].repeat_interleave(f, dim=0)
    return EditConditioning(
        image=torch.cat([cond, cond, torch.zeros_like(cond)]),
        instruction=torch.cat([per_frame, empty.expand(2 * b * f, -1, -1)]),
        caption=txt[b + 1 :],
        empty=empty,
        num_frames=f,
    )


# ---------------------------------------------------------------------- guidance
def _rows(t: torch.Tensor, n: int, device) -> torch.Tensor:
    """Timesteps as one per row of an n-row batch."""
    t = torch.as_tensor(t, device=device)
    return t.repeat(n) if t.ndim == 0 else t.to(device)


def _cfg2(out: torch.Tensor, scale: float) -> torch.Tensor:
    c, u = out.chunk(2)
    return u + scale * (c - u)


def _cfg3(out: torch.Tensor, n: int, s_txt: float, s_img: float) -> torch.Tensor:
    full, img_only, uncond = out[:n], out[n : 2 * n], out[2 * n :]
    return uncond + s_img * (img_only - uncond) + s_txt * (full - img_only)


def _branches(s_txt: float, s_img: float) -> int:
    return 1 if s_txt == 1.0 and s_img == 1.0 else 3


# ---------------------------------------------------------------------- predictions
def edit_prediction(unet, controlnet, x, t, cond: EditConditioning, guidance_scale: float = 5.0,
                    image_guidance_scale: float = 1.5) -> torch.Tensor:
    """The edit teacher on frames x (B*F, C, h, w)."""
    n = x.shape[0]
    k = _branches(guidance_scale, image_guidance_scale)
    cond = cond.branch(k)
    xk = torch.cat([x] * k)
    tt = _rows(t, n, x.device).repeat(k)
    caption = cond.caption.repeat_interleave(cond.num_frames, dim=0)
    text = torch.cat([caption, cond.empty.expand((k - 1) * n, -1, -1)])
    down, mid = controlnet_residuals(controlnet, xk, tt, cond.instruction, cond.image)
    out = unet(xk, tt, encoder_hidden_states=text, down_block_additional_residuals=down,
               mid_block_additional_residual=mid, return_dict=False)[0]
    return out if k == 1 else _cfg3(out, n, guidance_scale, image_guidance_scale)


def image_prediction(unet, x, t, caption: torch.Tensor, empty: torch.Tensor, guidance_scale: float = 5.0):
    """The backbone alone on images x (N, C, h, w); `caption` (N, L, D), `empty` (1, L, D)."""
    n = x.shape[0]
    text = torch.cat([caption, empty.expand(n, -1, -1)])
    return _cfg2(unet(torch.cat([x, x]), _rows(t, n, x.device).repeat(2), encoder_hidden_states=text,
                      return_dict=False)[0], guidance_scale)


def video_prediction(video_unet, x, t, caption: torch.Tensor, empty: torch.Tensor,
                     guidance_scale: float = 5.0) -> torch.Tensor:
    """The video teacher on clips x (B, C, F, h, w); `caption` (B, L, D), `empty` (1, L, D)."""
    b = x.shape[0]
    with align_off(video_unet):
        if guidance_scale == 1.0:
            return motion_forward(video_unet, x, _rows(t, b, x.device), caption)
        text = torch.cat([caption, empty.expand(b, -1, -1)])
        out = motion_forward(video_unet, torch.cat([x, x]), _rows(t, b, x.device).repeat(2), text)
    return _cfg2(out, guidance_scale)


def stack_prediction(video_unet, controlnet, x, t, cond: EditConditioning, guidance_scale: float = 5.0,
                     image_guidance_scale: float = 1.5, align: bool = False) -> torch.Tensor:
    """Both adapters on clips x (B, C, F, h, w): plug-and-play, or the student with `align`."""
    b = x.shape[0]
    k = _branches(guidance_scale, image_guidance_scale)
    cond = cond.branch(k)
    xk = torch.cat([x] * k)  # (kB, C, F, h, w)
    tc = _rows(t, b, x.device).repeat(k)
    per_frame = frames_to_batch(xk)  # (kBF, ...) clip-major, the layout of the conditioning
    down, mid = controlnet_residuals(controlnet, per_frame, tc.repeat_interleave(cond.num_frames), cond.instruction,
                                     cond.image)
    text = torch.cat([cond.caption, cond.empty.expand((k - 1) * b, -1, -1)])
    with contextlib.nullcontext() if align else align_off(video_unet):
        out = motion_forward(video_unet, xk, tc, text, down, mid)
    return out if k == 1 else _cfg3(out, b, guidance_scale, image_guidance_scale)


@contextlib.contextmanager
def align_off(unet):
    """Run `unet` without its LoRA layers (a no-op for a UNet that has none).

    Only forward passes run inside: a recomputation for gradient checkpointing would happen after
    the block has left, so the student (with gradients) always runs with its LoRA on."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    layers = [m for m in unet.modules() if isinstance(m, BaseTunerLayer)]
    was = [not m.disable_adapters for m in layers]
    for m in layers:
        m.enable_adapters(False)
    try:
        yield
    finally:
        for m, on in zip(layers, was):
            if on:
                m.enable_adapters(True)


# ---------------------------------------------------------------------- conversions and DDIM
def _coefficients(alphas_cumprod: torch.Tensor, t, like: torch.Tensor):
    """sqrt(ᾱ_t) and sqrt(1 - ᾱ_t), shaped to broadcast over `like` (one t, or one per row)."""
    a = alphas_cumprod.to(like.device)[torch.as_tensor(t, device=like.device).long()]
    a = a.reshape(-1, *([1] * (like.ndim - 1))) if a.ndim else a
    return a**0.5, (1 - a) ** 0.5


def to_x0(scheduler, x_t, out, t) -> torch.Tensor:
    """The clean sample a model output implies (as diffusers' DDIMScheduler computes it)."""
    sa, sb = _coefficients(scheduler.alphas_cumprod, t, x_t)
    if scheduler.config.prediction_type == "v_prediction":
        return sa * x_t - sb * out
    if scheduler.config.prediction_type == "epsilon":
        return (x_t - sb * out) / sa
    raise ValueError(f"unsupported prediction_type {scheduler.config.prediction_type!r}")


def to_eps(scheduler, x_t, out, t) -> torch.Tensor:
    """The noise a model output implies."""
    sa, sb = _coefficients(scheduler.alphas_cumprod, t, x_t)
    if scheduler.config.prediction_type == "v_prediction":
        return sa * out + sb * x_t
    if scheduler.config.prediction_type == "epsilon":
        return out
    raise ValueError(f"unsupported prediction_type {scheduler.config.prediction_type!r}")


def add_noise(scheduler, x0, noise, t) -> torch.Tensor:
    sa, sb = _coefficients(scheduler.alphas_cumprod, t, x0)
    return sa * x0 + sb * noise


def ddim_step(scheduler, x_t, out, t, t_prev) -> torch.Tensor:
    """One deterministic DDIM step (η = 0) from t to t_prev (t_prev < 0: to the clean sample).

    diffusers' `DDIMScheduler.step` derives t_prev from a fixed stride; FDD's K-bin steps are not
    evenly spaced, so the step takes both timesteps. Same arithmetic as diffusers' step."""
    x0, eps = to_x0(scheduler, x_t, out, t), to_eps(scheduler, x_t, out, t)
    if int(t_prev) < 0:
        return x0
    sa, sb = _coefficients(scheduler.alphas_cumprod, t_prev, x_t)
    return sa * x0 + sb * eps


def ddim(scheduler, x, predict, timesteps, fix=None) -> torch.Tensor:
    """DDIM through decreasing `timesteps` from x (noise, or noised latents for SDEdit).

    `predict(x, t)` returns the model output in the scheduler's prediction type; `fix(x)`, if given,
    overwrites known parts of x (clean conditioning frames) before each model call and at the end."""
    ts = [int(t) for t in timesteps]
    for i, t in enumerate(ts):
        if fix is not None:
            x = fix(x)
        x = ddim_step(scheduler, x, predict(x, torch.tensor(t)), t, ts[i + 1] if i + 1 < len(ts) else -1)
    return fix(x) if fix is not None else x


def pin_first_frame(first_frame: torch.Tensor | None):
    """`fix` for `ddim`: frame 0 of clips (B, C, F, h, w) held at the clean latent `first_frame`
    ((C, h, w) or (B, C, h, w)); None when there is none."""
    if first_frame is None:
        return None

    def fix(x):
        ff = first_frame.to(x.dtype).expand(x.shape[0], *x.shape[1:2], *x.shape[3:])
        return torch.cat([ff.unsqueeze(2), x[:, :, 1:]], dim=2)

    return fix
