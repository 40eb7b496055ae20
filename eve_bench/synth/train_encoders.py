"""Train the small CLIP and ViCLIP encoders that the synthetic suite ships (docs/synth-encoders.md).

The real TGVE encoders (CLIP ViT-L/14, ViCLIP-L) cannot be downloaded everywhere; on the built-in
`synth` suite, `clip_*` and `viclip_*` metrics use these instead, loaded through the very same
loaders as the real weights:

- CLIP: a small transformers `CLIPModel` saved with `save_pretrained`, with a `CLIPImageProcessor`
  and the real CLIP BPE tokenizer in the same folder (`ClipEncoder.load(dir, dir)`);
- ViCLIP: a small `eve_bench.encoders.viclip.ViCLIP` saved with its `save_pretrained`
  (`load_viclip(dir)`).

Both train with the symmetric InfoNCE loss of CLIP and a learned temperature on the training
streams of `eve_bench/synth/streams.py` (split "train"), on pixels prepared exactly as the metrics
prepare them (CLIP: PIL bicubic to 480x480, then the processor; ViCLIP: `ViCLIPPreprocess`). After
training, the weights are written, loaded back through the harness loaders and evaluated on the
held-out split (attribute pairs never seen in training): text-to-image / text-to-video retrieval.

    python -m eve_bench.synth.train_encoders clip --help
    python -m eve_bench.synth.train_encoders viclip --help
"""

from __future__ import annotations

import json
import math
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Annotated, Callable, Iterator, Union

import numpy as np
import torch
import torch.nn.functional as F

from eve_bench.weights import SYNTH_CLIP_DIR, SYNTH_VICLIP_DIR


# ----------------------------------------------------------------------------------------------
# Configs


@dataclass
class _Common:
    out_dir: Path
    """Folder the final weights (and train_log.jsonl, eval.json, TRAINING.md) are written to."""
    seed: int = 0
    """Seeds the initial weights and the training streams."""
    steps: int = 3000
    batch_size: int = 64
    lr: float = 1e-3
    """Peak AdamW learning rate (linear warm-up, cosine decay to 10%)."""
    warmup: int = 150
    weight_decay: float = 0.05
    """Applied to matrices only (not to norms, biases, embeddings' positions or the temperature)."""
    init_temperature: float = 0.07
    log_every: int = 25
    save_dtype: str = "float16"
    """dtype the weights are stored in: "float16" (half the size) or "float32"."""
    eval_items: int = 100
    """Held-out items for the final retrieval evaluation (chance top-1 = 1 / eval_items)."""
    eval_seed: int = 0
    threads: int | None = None
    """torch threads (default: torch's choice, i.e. OMP_NUM_THREADS)."""
    max_minutes: float | None = None
    """Stop early after this much training time (the report then gives the steps actually run)."""
    write_report: bool = True
    """Write TRAINING.md (the command, settings and measured results) beside the weights."""
    # Both encoders share these shapes: 64 px frames (the suite's size), a narrow vision tower and
    # a small text tower.
    image_size: int = 64
    vision_width: int = 96
    vision_layers: int = 4
    vision_heads: int = 4
    text_width: int = 64
    """The 49408 x text_width token table dominates the file size."""
    text_layers: int = 2
    text_heads: int = 2


@dataclass
class ClipTrainConfig(_Common):
    out_dir: Path = SYNTH_CLIP_DIR
    steps: int = 2500
    patch_size: int = 8
    projection_dim: int = 64
    triplet_fraction: float = 0.5
    """Share of each batch made of edit triplets (source with its caption and target with its
    target caption, near-duplicate pairs that teach edited attributes); the rest are single images."""


@dataclass
class ViclipTrainConfig(_Common):
    out_dir: Path = SYNTH_VICLIP_DIR
    batch_size: int = 48
    steps: int = 1000
    warmup: int = 80
    patch_size: int = 16
    num_frames: int = 8
    embed_dim: int = 64
    context_length: int = 64
    """BPE tokens per caption; the real ViCLIP's 32 would cut a third of the synthetic captions
    (up to 46 tokens with three moving objects) before their background."""
    edit_fraction: float = 0.5
    """Share of each batch made of edited clip pairs: a training clip with its caption and the same
    clip edited by one of the suite's seven tasks (style, object, background, ...) with the target
    caption, so styles and edited attributes are learned; the rest are plain `ClipStream` clips."""


# ----------------------------------------------------------------------------------------------
# Shared pieces


def contrastive_loss(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP's loss): row i of `a` matches row i of `b` among the batch."""
    logits = scale * F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T
    labels = torch.arange(len(a), device=a.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def retrieval_accuracy(text_emb, item_emb, ks: tuple[int, ...] = (1, 5)) -> dict:
    """Text-to-item retrieval: for text i, the rank of item i among all items by cosine.

    Ties count against the query (rank = number of items scoring at least as high, minus itself).
    """
    t = F.normalize(torch.as_tensor(np.asarray(text_emb), dtype=torch.float32), dim=-1)
    v = F.normalize(torch.as_tensor(np.asarray(item_emb), dtype=torch.float32), dim=-1)
    sim = t @ v.T
    rank = (sim >= sim.diag()[:, None]).sum(1) - 1
    n = len(t)
    out = {"n": n}
    for k in ks:
        out[f"top{k}"] = float((rank < k).float().mean())
        out[f"chance_top{k}"] = min(k, n) / n
    out["median_rank"] = float(rank.float().median()) + 1
    return out


def _lr_at(step: int, cfg: _Common) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def _optimizer(model: torch.nn.Module, cfg: _Common) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_matrix = p.ndim >= 2 and "positional_embedding" not in name and "position_embedding" not in name
        (decay if is_matrix else no_decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.98),
                             eps=1e-6)


def _param_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _take(stream, n: int) -> list[dict]:
    return list(islice(iter(stream), n))


def _fit(model: torch.nn.Module, cfg: _Common, batches: Iterator, step_loss: Callable,
         scale_of: Callable, log_path: Path | None) -> dict:
    """The training loop shared by both encoders. Returns a summary (losses, wall time)."""
    opt = _optimizer(model, cfg)
    model.train()
    log = open(log_path, "w") if log_path else None
    losses: list[float] = []
    start = time.perf_counter()
    try:
        for step in range(cfg.steps):
            if cfg.max_minutes is not None and time.perf_counter() - start > 60 * cfg.max_minutes:
                break
            lr = _lr_at(step, cfg)
            for group in opt.param_groups:
                group["lr"] = lr
            loss, in_batch_acc = step_loss(next(batches))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
            if log and (step % cfg.log_every == 0 or step == cfg.steps - 1):
                log.write(json.dumps({"step": step, "loss": losses[-1], "lr": lr,
                                      "logit_scale": _scalar(scale_of()), "in_batch_top1": in_batch_acc,
                                      "elapsed_s": round(time.perf_counter() - start, 2)}) + "\n")
                log.flush()
    finally:
        if log:
            log.close()
    model.eval()
    tail = losses[-50:]
    return {"steps": len(losses), "first_loss": losses[0] if losses else None,
            "final_loss": float(np.mean(tail)) if tail else None, "final_loss_window": len(tail),
            "train_wall_s": round(time.perf_counter() - start, 1),
            "final_logit_scale": _scalar(scale_of())}


def _scalar(x) -> float:
    return float(x.detach()) if isinstance(x, torch.Tensor) else float(x)


def _in_batch_top1(a: torch.Tensor, b: torch.Tensor) -> float:
    with torch.no_grad():
        sim = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T
        return float((sim.argmax(1) == torch.arange(len(a))).float().mean())


def _setup(cfg: _Common) -> None:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)


def _file_mb(folder: Path) -> dict:
    weights = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
    total = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    return {"weights_bytes": weights, "folder_bytes": total}


# ----------------------------------------------------------------------------------------------
# CLIP


def build_clip(cfg: ClipTrainConfig):
    from transformers import CLIPConfig, CLIPModel

    from eve_bench.encoders.clip_bpe import BOS_ID, EOS_ID, VOCAB_SIZE

    config = CLIPConfig(
        text_config={"hidden_size": cfg.text_width, "intermediate_size": 4 * cfg.text_width,
                     "num_hidden_layers": cfg.text_layers, "num_attention_heads": cfg.text_heads,
                     "vocab_size": VOCAB_SIZE, "max_position_embeddings": 77,
                     "bos_token_id": BOS_ID, "eos_token_id": EOS_ID, "pad_token_id": 1},
        vision_config={"hidden_size": cfg.vision_width, "intermediate_size": 4 * cfg.vision_width,
                       "num_hidden_layers": cfg.vision_layers, "num_attention_heads": cfg.vision_heads,
                       "image_size": cfg.image_size, "patch_size": cfg.patch_size},
        projection_dim=cfg.projection_dim,
        logit_scale_init_value=math.log(1 / cfg.init_temperature),
    )
    torch.manual_seed(cfg.seed)
    return CLIPModel(config)


class ClipPixels:
    """Frames -> pixel_values as `ClipEncoder` prepares them: PIL bicubic to 480x480, then the saved
    processor (PIL backend: bicubic down to the model size, CLIP mean/std).

    `exact=False` (training) applies the two resizes as one 64x64 linear map per axis, measured
    from PIL in float mode: 25x faster, it differs from PIL's 8-bit passes only by their rounding
    and by the clipping of bicubic overshoot at hard edges (mean 0.05 grey levels on the suite's
    frames). Evaluation always goes through `ClipEncoder` itself.
    """

    def __init__(self, processor_dir: Path, exact: bool = True) -> None:
        import transformers
        from transformers import AutoImageProcessor

        major = int(transformers.__version__.split(".")[0])
        kw = {"backend": "pil"} if major >= 5 else {"use_fast": False}
        self.processor = AutoImageProcessor.from_pretrained(processor_dir, **kw)
        self.exact = exact
        self.mean = torch.tensor(self.processor.image_mean)[:, None, None]
        self.std = torch.tensor(self.processor.image_std)[:, None, None]
        self._maps: dict[int, torch.Tensor] = {}

    def _map(self, n: int) -> torch.Tensor:
        """(size, n): row i holds the weights of input pixel j in output pixel i, along one axis."""
        from PIL import Image

        from eve_bench.encoders.clip import FRAME_SIZE

        if n not in self._maps:
            size = self.processor.crop_size["height"]
            cols = []
            for j in range(n):
                e = np.zeros((1, n), np.float32)
                e[0, j] = 1.0
                im = Image.fromarray(e, mode="F").resize((FRAME_SIZE, 1), Image.BICUBIC)
                cols.append(np.asarray(im.resize((size, 1), Image.BICUBIC))[0])
            self._maps[n] = torch.from_numpy(np.stack(cols, 1))
        return self._maps[n]

    def __call__(self, frames: list[np.ndarray]) -> torch.Tensor:
        from eve_bench.encoders.clip import tgve_resize

        square = all(f.shape[0] == f.shape[1] == frames[0].shape[0] for f in frames)
        if self.exact or not square:
            return self.processor(images=[tgve_resize(f) for f in frames], return_tensors="pt")["pixel_values"]
        m = self._map(frames[0].shape[0])
        x = torch.from_numpy(np.stack(frames)).float()
        x = torch.einsum("ih,bhwc,jw->bcij", m, x, m).round().clamp(0, 255)
        return (x / 255.0 - self.mean) / self.std


def _mixed_batch(pairs: Iterator[dict], singles: Iterator[dict], n_pairs: int, batch_size: int, key: str) -> tuple[list, list[str]]:
    """Media and captions of one batch: n_pairs edited (source, target) pairs, so the encoder learns
    what edits change, then plain items (`key`: "image" or "video") up to batch_size."""
    media, texts = [], []
    for p in islice(pairs, n_pairs):
        media += [p["source"], p["target"]]
        texts += [p["source_caption"], p["target_caption"]]
    for x in islice(singles, batch_size - 2 * n_pairs):
        media.append(x[key])
        texts.append(x["caption"])
    return media, texts


def _clip_batches(cfg: ClipTrainConfig, pixels: ClipPixels, tokenizer) -> Iterator[dict]:
    from eve_bench.synth.streams import EditTripletStream, ImageCaptionStream

    images = iter(ImageCaptionStream(seed=cfg.seed, size=64, split="train"))
    triplets = iter(EditTripletStream(seed=cfg.seed, size=64, split="train"))
    n_trip = int(round(cfg.batch_size * cfg.triplet_fraction / 2))
    while True:
        frames, texts = _mixed_batch(triplets, images, n_trip, cfg.batch_size, "image")
        tokens = tokenizer(texts, padding=True, truncation=True, max_length=77, return_tensors="pt")
        yield {"pixel_values": pixels(frames), **tokens}


def _pooled(out):
    return getattr(out, "pooler_output", out)


def train_clip(cfg: ClipTrainConfig) -> dict:
    from transformers import AutoTokenizer

    from eve_bench.encoders.clip_bpe import save_clip_processor

    _setup(cfg)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_clip_processor(out, cfg.image_size)  # first: training reads the processor back from it
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = build_clip(cfg)

    def step_loss(batch):
        img = _pooled(model.get_image_features(pixel_values=batch["pixel_values"]))
        txt = _pooled(model.get_text_features(input_ids=batch["input_ids"],
                                              attention_mask=batch["attention_mask"]))
        return contrastive_loss(img, txt, scale_of()), _in_batch_top1(txt, img)

    def scale_of():
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        return model.logit_scale.exp()

    summary = _fit(model, cfg, _clip_batches(cfg, ClipPixels(out, exact=False), tokenizer), step_loss, scale_of,
                   out / "train_log.jsonl" if cfg.write_report else None)
    return _export(model, cfg, out, "clip", summary, evaluate_clip)


def _export(model, cfg, out: Path, kind: str, summary: dict, evaluate) -> dict:
    """Save the trained weights, then evaluate them through the harness loader and write the report."""
    model.to(getattr(torch, cfg.save_dtype)).save_pretrained(out)
    summary.update(parameters=_param_count(model), **_file_mb(out))
    summary["eval"] = evaluate(out, n=cfg.eval_items, seed=cfg.eval_seed)
    _finish(cfg, kind, summary)
    return summary


def evaluate_clip(weights_dir: str | os.PathLike, n: int = 100, seed: int = 0) -> dict:
    """Held-out text-to-image retrieval through `ClipEncoder.load` (the harness's CLIP loader)."""
    from eve_bench.encoders.cache import EmbeddingCache
    from eve_bench.encoders.clip import ClipEncoder
    from eve_bench.synth.streams import ImageCaptionStream

    d = Path(weights_dir)
    encoder = ClipEncoder.load(d, d, cache=EmbeddingCache(enabled=False))
    items = _take(ImageCaptionStream(seed=seed, size=64, split="heldout"), n)
    frames = encoder.encode_frames([x["image"] for x in items])
    texts = encoder.encode_texts([x["caption"] for x in items])
    return {"task": "text-to-image", "split": "heldout", "stream": "ImageCaptionStream", "seed": seed,
            **retrieval_accuracy(texts, frames)}


# ----------------------------------------------------------------------------------------------
# ViCLIP


def build_viclip(cfg: ViclipTrainConfig):
    from eve_bench.encoders.viclip import ViCLIP, ViCLIPConfig

    config = ViCLIPConfig(image_size=cfg.image_size, patch_size=cfg.patch_size, num_frames=cfg.num_frames,
                          vision_width=cfg.vision_width, vision_layers=cfg.vision_layers,
                          vision_heads=cfg.vision_heads, embed_dim=cfg.embed_dim,
                          context_length=cfg.context_length, text_width=cfg.text_width,
                          text_layers=cfg.text_layers, text_heads=cfg.text_heads)
    torch.manual_seed(cfg.seed)
    model = ViCLIP(config)
    with torch.no_grad():
        model.temp.fill_(cfg.init_temperature)  # the public 0.01 is a trained value, too sharp to start
    return model


def _edited_clip_pairs(seed: int, num_frames: int) -> Iterator[dict]:
    """Endless (source clip, caption, edited clip, target caption) of the "train" split: an
    `EditTripletStream` for 8-frame clips (same rejection of held-out pairs, own seed sequence)."""
    from eve_bench.synth.captions import caption
    from eve_bench.synth.render import render_scene
    from eve_bench.synth.scene import pick, sample_scene
    from eve_bench.synth.streams import SPLIT_TAGS, belongs
    from eve_bench.synth.tasks import TASKS

    rng = np.random.default_rng([SPLIT_TAGS["train"], seed, 0, 0, 7])
    tasks = tuple(TASKS)
    while True:
        task = pick(rng, tasks)
        while True:
            source = sample_scene(rng, num_frames=num_frames, size=64)
            edit = TASKS[task](source, rng)
            if belongs("train", source, edit.scene):
                break
        yield {"source": render_scene(source), "source_caption": caption(source),
               "target": render_scene(edit.scene), "target_caption": edit.target_caption}


def _viclip_batches(cfg: ViclipTrainConfig, config) -> Iterator[dict]:
    from eve_bench.encoders.viclip import ViCLIPPreprocess, tokenize
    from eve_bench.synth.streams import ClipStream

    preprocess = ViCLIPPreprocess()
    clips = iter(ClipStream(seed=cfg.seed, size=64, num_frames=cfg.num_frames, split="train"))
    pairs = _edited_clip_pairs(cfg.seed, cfg.num_frames)
    n_pairs = int(round(cfg.batch_size * cfg.edit_fraction / 2))
    while True:
        videos, texts = _mixed_batch(pairs, clips, n_pairs, cfg.batch_size, "video")
        yield {"video": torch.stack([preprocess(v, config) for v in videos]),
               # training captions fit the context: no warning per prompt
               "tokens": tokenize(texts, config.context_length, warn=False)}


def train_viclip(cfg: ViclipTrainConfig) -> dict:
    _setup(cfg)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = build_viclip(cfg)

    def scale_of():
        with torch.no_grad():
            model.temp.clamp_(min=0.01)
        return 1.0 / model.temp

    def step_loss(batch):
        vid = model.vision_encoder(batch["video"])
        txt = model.text_encoder(batch["tokens"])
        return contrastive_loss(vid, txt, scale_of()), _in_batch_top1(txt, vid)

    summary = _fit(model, cfg, _viclip_batches(cfg, model.config), step_loss, scale_of,
                   out / "train_log.jsonl" if cfg.write_report else None)
    return _export(model, cfg, out, "viclip", summary, evaluate_viclip)


def evaluate_viclip(weights_dir: str | os.PathLike, n: int = 100, seed: int = 0) -> dict:
    """Held-out text-to-video retrieval through `load_viclip` (the harness's ViCLIP loader)."""
    from eve_bench.encoders.viclip import load_viclip
    from eve_bench.synth.streams import ClipStream

    model = load_viclip(weights_dir)
    items = _take(ClipStream(seed=seed, size=64, num_frames=model.config.num_frames, split="heldout"), n)
    videos = model.encode_video([x["video"] for x in items])
    texts = model.encode_text([x["caption"] for x in items])
    return {"task": "text-to-video", "split": "heldout", "stream": "ClipStream", "seed": seed,
            **retrieval_accuracy(texts, videos)}


# ----------------------------------------------------------------------------------------------
# On the suite itself


def suite_edit_check(kind: str, weights_dir: str | os.PathLike, n_videos: int = 20, seed: int = 0) -> dict:
    """Do the shipped encoders see the `synth` suite's ground-truth edits? Per task, over `n_videos`
    videos: how often the ground truth matches the target caption better than the unedited source
    does (cos(E(gt), E_T(target)) > cos(E(source), E_T(target)), the `*_out` / `clip_text` signal),
    and the mean direction cosine cos(E(gt) - E(source), E_T(target) - E_T(source)) (`*_dir`).

    `kind` is "clip" (frame embeddings averaged over the video) or "viclip". Embeddings are
    L2-normalised before any difference.
    """
    from eve_bench.synth.suite import load_synth

    suite = load_synth(n_videos=n_videos, seed=seed)
    samples = list(suite.samples)
    sources = {s.video_id: s.load_source().frames for s in samples}
    gts = [s.load_ground_truth().frames for s in samples]
    if kind == "clip":
        from eve_bench.encoders.cache import EmbeddingCache
        from eve_bench.encoders.clip import ClipEncoder

        d = Path(weights_dir)
        enc = ClipEncoder.load(d, d, cache=EmbeddingCache(enabled=False))

        def videos(vs):
            return F.normalize(torch.tensor(np.stack(
                [F.normalize(torch.from_numpy(e), dim=-1).mean(0).numpy() for e in enc.encode_videos(vs)])), dim=-1)

        def texts(ts):
            return F.normalize(torch.from_numpy(enc.encode_texts(ts)), dim=-1)
    elif kind == "viclip":
        from eve_bench.encoders.viclip import load_viclip

        model = load_viclip(weights_dir)
        videos, texts = model.encode_video, model.encode_text
    else:
        raise ValueError(f"kind must be 'clip' or 'viclip', got {kind!r}")
    ids = list(sources)
    src_by_id = dict(zip(ids, videos([sources[i] for i in ids])))
    src = torch.stack([src_by_id[s.video_id] for s in samples])
    gt = videos(gts)
    t_src, t_tgt = texts([s.source_caption for s in samples]), texts([s.target_caption for s in samples])
    better = ((gt * t_tgt).sum(-1) > (src * t_tgt).sum(-1)).float()
    direction = F.cosine_similarity(gt - src, t_tgt - t_src, dim=-1, eps=1e-8)
    out: dict = {"kind": kind, "n_videos": n_videos, "seed": seed, "tasks": {}}
    for task in sorted({s.task for s in samples}):
        idx = [i for i, s in enumerate(samples) if s.task == task]
        out["tasks"][task] = {"gt_beats_source": float(better[idx].mean()),
                              "mean_dir_cos": float(direction[idx].mean()), "n": len(idx)}
    out["all"] = {"gt_beats_source": float(better.mean()), "mean_dir_cos": float(direction.mean()),
                  "n": len(samples)}
    return out


# ----------------------------------------------------------------------------------------------
# Report


def _finish(cfg: _Common, kind: str, summary: dict) -> None:
    if not cfg.write_report:
        return
    out = Path(cfg.out_dir)
    summary["command"] = "python -m eve_bench.synth.train_encoders " + " ".join(
        shlex.quote(a) for a in sys.argv[1:]) if sys.argv[0].endswith("train_encoders.py") else None
    summary["env"] = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "torch": torch.__version__,
                      "torch_threads": torch.get_num_threads()}
    summary["config"] = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}
    (out / "eval.json").write_text(json.dumps(summary, indent=2) + "\n")
    e = summary["eval"]
    what = "text-to-image (ImageCaptionStream)" if kind == "clip" else "text-to-video (ClipStream)"
    loader = "`ClipEncoder.load(dir, dir)`" if kind == "clip" else "`load_viclip(dir)`"
    lines = [
        f"# synth-{kind}: how these weights were made",
        "",
        "Written by `eve_bench/synth/train_encoders.py` at the end of the run; every number below",
        "comes from that run (also in `eval.json`; the loss curve is in `train_log.jsonl`).",
        "",
        "```bash",
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')} {summary['command'] or '(called from Python)'}",
        "```",
        "",
        "| | |",
        "|---|---|",
        f"| seed | {cfg.seed} |",
        f"| steps | {summary['steps']} |",
        f"| batch | {cfg.batch_size} |",
        f"| learning rate | {cfg.lr} (AdamW, warm-up {cfg.warmup}, cosine to 10%), weight decay {cfg.weight_decay} |",
        f"| training wall time | {summary['train_wall_s']} s on {summary['env']['torch_threads']} CPU thread(s) |",
        f"| first loss | {summary['first_loss']:.4f} (ln {cfg.batch_size} = {math.log(cfg.batch_size):.4f}) |",
        f"| final loss | {summary['final_loss']:.4f} (mean of the last {summary['final_loss_window']} steps) |",
        f"| final logit scale | {summary['final_logit_scale']:.2f} |",
        f"| parameters | {summary['parameters']:,} |",
        f"| stored as | {cfg.save_dtype} |",
        f"| weights file | {summary['weights_bytes']:,} bytes |",
        f"| whole folder | {summary['folder_bytes']:,} bytes (before this file and eval.json) |",
        "",
        f"Held-out {what} retrieval, {e['n']} items of split `heldout` (seed {e['seed']}), loaded",
        f"through {loader}:",
        "",
        "| | accuracy | chance |",
        "|---|---|---|",
        f"| top-1 | {e['top1']:.3f} | {e['chance_top1']:.3f} |",
        f"| top-5 | {e['top5']:.3f} | {e['chance_top5']:.3f} |",
        f"| median rank | {e['median_rank']:.1f} | {(e['n'] + 1) / 2:.1f} |",
        "",
        "Settings (`" + type(cfg).__name__ + "`):",
        "",
        "```json",
        json.dumps(summary["config"], indent=2),
        "```",
        "",
    ]
    (out / "TRAINING.md").write_text("\n".join(lines))


# ----------------------------------------------------------------------------------------------
# CLI


def main(argv: list[str] | None = None) -> dict:
    import tyro

    cfg = tyro.cli(
        Union[
            Annotated[ClipTrainConfig, tyro.conf.subcommand("clip", description="Train the synth CLIP.")],
            Annotated[ViclipTrainConfig, tyro.conf.subcommand("viclip", description="Train the synth ViCLIP.")],
        ],
        args=argv,
    )
    summary = train_clip(cfg) if isinstance(cfg, ClipTrainConfig) else train_viclip(cfg)
    print(json.dumps(summary["eval"], indent=2))
    return summary


if __name__ == "__main__":
    main()
