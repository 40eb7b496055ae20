"""ViCLIP (Wang et al., InternVid, arXiv 2307.06942): a CLIP whose image tower sees 8 frames at once.

The vision tower is a ViT whose patch tokens get a spatial and a temporal positional embedding and
attend jointly across all frames; the class token is projected into the joint space. The text
tower is OpenAI CLIP's causal text transformer, with a 32-token context. Parameter names follow the
public InternVid code (OpenGVLab/InternVideo, Data/InternVid/viclip/) exactly, so the public
checkpoint `ViClip-InternVid-10M-FLT.pth` loads with `strict=True`; see docs/metrics-viclip.md.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import OrderedDict
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from eve_bench.encoders.local_weights import is_pickle, weights_id
from eve_bench.errors import MissingWeightsError, WeightsError, one_line

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "ViClip-InternVid-10M-FLT.pth"
WEIGHTS_HELP = (
    f"Pass ViCLIP weights with --viclip-model DIR: a folder written by ViCLIP.save_pretrained "
    f"(config.json + model.safetensors), or one made from the public {CHECKPOINT_NAME} (ViT-L/14; on a "
    f"machine with internet, download it from the Hugging Face repo OpenGVLab/ViCLIP or from "
    f"OpenGVLab/VBench_Used_Models/{CHECKPOINT_NAME}) with `eve-bench convert-viclip {CHECKPOINT_NAME} DIR`."
)


@dataclass(frozen=True)
class ViCLIPConfig:
    image_size: int = 224
    patch_size: int = 14
    num_frames: int = 8
    vision_width: int = 1024
    vision_layers: int = 24
    vision_heads: int = 16
    embed_dim: int = 768
    context_length: int = 32
    vocab_size: int = 49408  # OpenAI CLIP BPE; the tokenizer below produces these ids
    text_width: int = 768
    text_layers: int = 12
    text_heads: int = 12

    @classmethod
    def large(cls) -> "ViCLIPConfig":
        """ViT-L/14 at 224 px, 8 frames: the public InternVid-10M-FLT checkpoint."""
        return cls()

    @classmethod
    def small(cls) -> "ViCLIPConfig":
        """For a synthetic-suite encoder: ~6.7 M parameters plus a 12.6 M token table."""
        return cls(image_size=112, patch_size=16, vision_width=256, vision_layers=4, vision_heads=4,
                   embed_dim=256, text_width=256, text_layers=4, text_heads=4)

    @classmethod
    def tiny(cls) -> "ViCLIPConfig":
        """For tests: runs in milliseconds on a CPU."""
        return cls(image_size=32, patch_size=8, vision_width=128, vision_layers=2, vision_heads=2,
                   embed_dim=64, text_width=128, text_layers=2, text_heads=2)


# ----------------------------------------------------------------------------------------------
# Model


class QuickGELU(nn.Module):
    # CLIP was trained with this approximation; exact GELU shifts the embeddings.
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class Attention(nn.Module):
    """Multi-head self-attention with nn.MultiheadAttention's parameter names (as in the checkpoint).

    Written out so that it runs through scaled_dot_product_attention: nn.MultiheadAttention's CPU
    path materialises the (heads, 2049, 2049) attention matrix of an 8-frame clip per video.
    """

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        B, L, C = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).split(C, dim=-1)
        q, k, v = (t.view(B, L, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return self.out_proj(y.transpose(1, 2).reshape(B, L, C))


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, 4 * width)),
            ("gelu", QuickGELU()),
            ("c_proj", nn.Linear(4 * width, width)),
        ]))

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), causal)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads) for _ in range(layers))

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, causal)
        return x


class VisionTransformer(nn.Module):
    def __init__(self, cfg: ViCLIPConfig) -> None:
        super().__init__()
        width, grid = cfg.vision_width, cfg.image_size // cfg.patch_size
        self.num_frames = cfg.num_frames
        # A Conv3d with temporal kernel 1 is a per-frame patch embedding; the public checkpoint
        # stores it as a 5-d weight, so it stays a Conv3d here.
        p = cfg.patch_size
        self.conv1 = nn.Conv3d(3, width, (1, p, p), (1, p, p), bias=False)
        scale = width**-0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.temporal_positional_embedding = nn.Parameter(torch.zeros(1, cfg.num_frames, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, cfg.vision_layers, cfg.vision_heads)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, cfg.embed_dim))

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) normalised pixels -> (B, embed_dim), not normalised."""
        B, T = video.shape[:2]
        if T != self.num_frames:
            # The temporal embedding is trained for exactly this many frames and never interpolated.
            raise ValueError(f"ViCLIP takes exactly {self.num_frames} frames, got {T}")
        x = self.conv1(video.transpose(1, 2))  # (B, C, T, h, w)
        x = x.flatten(3).permute(0, 2, 3, 1)  # (B, T, h*w, C)
        x = x + self.positional_embedding[1:] + self.temporal_positional_embedding[0, :, None]
        # The class token gets the spatial embedding of slot 0 but no temporal one. Token order
        # does not matter: attention is unmasked and only the class token is read out.
        cls = (self.class_embedding + self.positional_embedding[0]).expand(B, 1, -1)
        x = torch.cat([cls, x.flatten(1, 2)], dim=1)
        x = self.transformer(self.ln_pre(x))
        return self.ln_post(x[:, 0]) @ self.proj


class TextTransformer(nn.Module):
    def __init__(self, cfg: ViCLIPConfig) -> None:
        super().__init__()
        width = cfg.text_width
        self.token_embedding = nn.Embedding(cfg.vocab_size, width)
        self.positional_embedding = nn.Parameter(0.01 * torch.randn(cfg.context_length, width))
        self.transformer = Transformer(width, cfg.text_layers, cfg.text_heads)
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(width**-0.5 * torch.randn(width, cfg.embed_dim))
        nn.init.normal_(self.token_embedding.weight, std=0.02)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, context_length) token ids -> (B, embed_dim), not normalised."""
        x = self.token_embedding(tokens) + self.positional_embedding
        x = self.ln_final(self.transformer(x, causal=True))
        # Read out at the end-of-text token, which has the largest id in the vocabulary.
        eot = x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)]
        return eot @ self.text_projection


class ViCLIP(nn.Module):
    def __init__(self, config: ViCLIPConfig | None = None) -> None:
        super().__init__()
        self.config = config or ViCLIPConfig.large()
        self.vision_encoder = VisionTransformer(self.config)
        self.text_encoder = TextTransformer(self.config)
        # Contrastive temperature; unused for scoring but part of the public state dict.
        self.temp = nn.Parameter(torch.tensor(0.01))
        self.weights_id = "random-init"  # names the weights in cache keys; set by the loaders

    @property
    def device(self) -> torch.device:
        return self.temp.device

    @torch.no_grad()
    def encode_video(self, videos: Sequence[np.ndarray], preprocess: "ViCLIPPreprocess | None" = None,
                     batch_size: int = 8) -> torch.Tensor:
        """uint8 (T, H, W, 3) videos of any length -> L2-normalised (N, embed_dim) float32 on CPU."""
        preprocess = preprocess or ViCLIPPreprocess()
        out = []
        for i in range(0, len(videos), batch_size):
            pixels = torch.stack([preprocess(v, self.config) for v in videos[i : i + batch_size]])
            out.append(self.vision_encoder(pixels.to(self.device)).float().cpu())
        return F.normalize(torch.cat(out), dim=-1)

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Prompts -> L2-normalised (N, embed_dim) float32 on CPU."""
        out = []
        for i in range(0, len(texts), batch_size):
            tokens = tokenize(texts[i : i + batch_size], self.config.context_length)
            out.append(self.text_encoder(tokens.to(self.device)).float().cpu())
        return F.normalize(torch.cat(out), dim=-1)

    def save_pretrained(self, folder: str | os.PathLike) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(asdict(self.config), indent=2) + "\n")
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, str(folder / "model.safetensors"))

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, device: str = "cpu") -> "ViCLIP":
        from safetensors.torch import load_file

        folder = Path(folder)
        config = ViCLIPConfig(**json.loads((folder / "config.json").read_text()))
        model = cls(config)
        model.load_state_dict(load_file(str(folder / "model.safetensors")), strict=True)
        model.weights_id = weights_id(folder)
        return model.to(device).eval()


# ----------------------------------------------------------------------------------------------
# Loading


def load_viclip(path: str | os.PathLike | None, device: str = "cpu",
                config: ViCLIPConfig | None = None) -> ViCLIP:
    """A save_pretrained folder or a single safetensors file; strict loading; never a pickle.

    For a bare file the size is read off the tensor shapes (heads assume CLIP's 64-wide heads)
    unless `config` is given. A `.pth` is refused with the command that converts it (`convert_pth`).
    """
    if path is None or not Path(path).exists():
        where = "no path was given" if path is None else f"{path} does not exist"
        raise MissingWeightsError(f"ViCLIP weights not found: {where}. {WEIGHTS_HELP}")
    path = Path(path)
    file = path / "model.safetensors" if path.is_dir() else path
    if file.is_file():
        refuse_pickle(file)
    try:
        if path.is_dir():
            return ViCLIP.from_pretrained(path, device)
        from safetensors.torch import load_file

        state = load_file(str(path))
        model = ViCLIP(config or config_from_state_dict(state))
        model.load_state_dict(state, strict=True)
    except Exception as e:  # corrupt or truncated file, wrong keys or shapes, bad config.json
        raise WeightsError(f"--viclip-model {path}: cannot load ViCLIP weights from {file.name}: {one_line(e)}") from e
    model.weights_id = weights_id(path)
    return model.to(device).eval()


def refuse_pickle(file: Path) -> None:
    """WeightsError when `file` is a PyTorch pickle: unpickling runs whatever code the file names."""
    if is_pickle(file):
        raise WeightsError(
            f"--viclip-model {file}: a PyTorch pickle checkpoint, which eve-bench never loads (unpickling can "
            f"run code). If you trust where it came from, convert it once with `eve-bench convert-viclip {file} DIR` "
            "and pass --viclip-model DIR"
        )


def convert_pth(src: str | os.PathLike, out: str | os.PathLike, trust_pickle: bool = False) -> Path:
    """Write a `.pth` checkpoint (state dict under "model", or bare) as a save_pretrained folder.

    This is the only place eve-bench reads a pickle, and only when a person runs it on a file they
    chose: torch's weights-only loader first, and a full unpickle (which can run code) only with
    `trust_pickle`, for training checkpoints that pickle config objects beside the weights.
    """
    import torch

    src, out = Path(src), Path(out)
    try:
        obj = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as e:
        if not trust_pickle:
            raise WeightsError(
                f"{src}: holds more than tensors ({one_line(e, 200)}); loading it fully runs pickle code. "
                "Only if you trust where it came from, rerun with --trust-pickle"
            ) from e
        obj = torch.load(src, map_location="cpu", weights_only=False)  # the user vouched for src
    state = obj.get("model", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{src}: not a ViCLIP checkpoint (expected a state dict of tensors, bare or under 'model')")
    # DistributedDataParallel and wrapper modules prepend these; the public file has none.
    state = {re.sub(r"^(module\.|model\.)+", "", k): v for k, v in state.items()}
    model = ViCLIP(config_from_state_dict(state))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise WeightsError(f"{src}: not a ViCLIP checkpoint: {one_line(e)}") from e
    model.save_pretrained(out)
    return out


def config_from_state_dict(state: dict[str, torch.Tensor]) -> ViCLIPConfig:
    def layers(prefix: str) -> int:
        pat = re.compile(re.escape(prefix) + r"\.transformer\.resblocks\.(\d+)\.")
        return len({m.group(1) for k in state if (m := pat.match(k))})

    try:
        v_width = state["vision_encoder.class_embedding"].shape[0]
        patch = state["vision_encoder.conv1.weight"].shape[-1]
        grid = round((state["vision_encoder.positional_embedding"].shape[0] - 1) ** 0.5)
        vocab, t_width = state["text_encoder.token_embedding.weight"].shape
        return ViCLIPConfig(
            image_size=grid * patch,
            patch_size=patch,
            num_frames=state["vision_encoder.temporal_positional_embedding"].shape[1],
            vision_width=v_width,
            vision_layers=layers("vision_encoder"),
            vision_heads=max(1, v_width // 64),
            embed_dim=state["vision_encoder.proj"].shape[1],
            context_length=state["text_encoder.positional_embedding"].shape[0],
            vocab_size=vocab,
            text_width=t_width,
            text_layers=layers("text_encoder"),
            text_heads=max(1, t_width // 64),
        )
    except KeyError as e:
        raise ValueError(f"not a ViCLIP state dict: missing {e}") from None


# ----------------------------------------------------------------------------------------------
# Tokenizer


@lru_cache(maxsize=1)
def _tokenizer():
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer()


def tokenize(texts: Sequence[str], context_length: int = 32, warn: bool = True) -> torch.Tensor:
    """OpenAI CLIP BPE ids, (N, context_length). Longer prompts are cut and end with EOT, as ViCLIP
    (`warn`: log each prompt cut, which a metric's user should know of)."""
    tok = _tokenizer()
    for text in texts if warn else ():
        n = len(tok.encode(text)) + 2
        if n > context_length:
            logger.warning("prompt of %d tokens truncated to %d for ViCLIP: %r", n, context_length, text)
    return tok(list(texts), context_length=context_length)


# ----------------------------------------------------------------------------------------------
# Preprocessing

CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ViCLIPPreprocess:
    """How a video becomes ViCLIP input; the paper does not say, so it is recorded in cache ids.

    sampling: "uniform" takes frame floor(i * T / n) for i < n (EditVerse; equals the InternVid
      demo's `[::T // n]` when T is a multiple of n); "middle" takes the middle frame of n equal
      segments (VBench's "middle").
    recipe: "clip" resizes the short side to the model size (PIL bicubic), centre-crops and uses
      CLIP mean/std (VBench, V2VBench, EditVerse); "internvid" stretches to a square (cv2
      bilinear) and uses ImageNet mean/std (the InternVid demo).
    """

    sampling: str = "uniform"
    recipe: str = "clip"

    def __post_init__(self) -> None:
        if self.sampling not in ("uniform", "middle"):
            raise ValueError(f"ViCLIP sampling must be 'uniform' or 'middle', got {self.sampling!r}")
        if self.recipe not in ("clip", "internvid"):
            raise ValueError(f"ViCLIP recipe must be 'clip' or 'internvid', got {self.recipe!r}")

    @property
    def id(self) -> str:
        return f"{self.sampling}-{self.recipe}"

    def frame_indices(self, length: int, n: int) -> list[int]:
        if self.sampling == "uniform":
            return [i * length // n for i in range(n)]
        starts = [i * length // n for i in range(n + 1)]
        return [(a + max(a, b - 1)) // 2 for a, b in zip(starts, starts[1:])]

    def sample(self, frames: np.ndarray, n: int) -> np.ndarray:
        """(T, H, W, 3) -> (n, H, W, 3); shorter videos repeat frames."""
        return frames[self.frame_indices(len(frames), n)]

    def __call__(self, frames: np.ndarray, config: ViCLIPConfig) -> torch.Tensor:
        """uint8 (T, H, W, 3) -> float (num_frames, 3, S, S), normalised."""
        size = config.image_size
        frames = self.sample(frames, config.num_frames)
        if self.recipe == "clip":
            pixels, mean, std = np.stack([_resize_crop(f, size) for f in frames]), CLIP_MEAN, CLIP_STD
        else:
            import cv2

            pixels = np.stack([cv2.resize(f, (size, size)) for f in frames])
            mean, std = IMAGENET_MEAN, IMAGENET_STD
        x = torch.from_numpy(pixels).float().div(255.0).permute(0, 3, 1, 2)
        return (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


def _resize_crop(frame: np.ndarray, size: int) -> np.ndarray:
    # Same arithmetic as torchvision Resize(size) + CenterCrop(size) on a PIL image.
    h, w = frame.shape[:2]
    new_w, new_h = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
    im = Image.fromarray(frame).resize((new_w, new_h), Image.BICUBIC)
    top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
    return np.asarray(im)[top : top + size, left : left + size]
