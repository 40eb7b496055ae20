"""The teacher-sample bank: FDD's unsupervised items with what the frozen teachers make of them,
made once, stored on disk and shared by every student, seed and ablation trained against the same
teachers.

Per item: the source clip (cut to the video adapter's window) and its texts, the source latents,
the edit teacher's first-frame edit (the frame the student's rollout is pinned to), the edit
teacher's DDIM edit of every frame (what D_e sees as real) and the video teacher's DDIM clip
pinned to that first frame (what D_v sees as real). Making them online cost more than the
student's own step (docs/fdd.md); made once, the discriminators can see hundreds of items.

The bank's folder is named by a key over everything that shapes its content: the teachers' bytes
(backbone and both adapters), their guidance and step counts, and where each split's items come
from. Another checkpoint, guidance or item source gives another folder, so no student is ever
trained against samples of other teachers. Each item is seeded by its split and index, so items
can be made in any order, in several processes at once (`--part`), and a killed build resumes.

    python -m reference.teacher_bank --weights reference/weights/synth --items 384 --probe-items 32
    python -m reference.teacher_bank ... --part 0/2 &  python -m reference.teacher_bank ... --part 1/2

Layout: <root>/<key>/bank.json (what the key covers) and <root>/<key>/<split>/<index>.safetensors
(split: "train", the items the student learns from; "probe", held out, for measuring D).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from eve_bench.atomic import atomic_file, atomic_write_text
from eve_bench.hashing import cached_files_digest, json_hash
from reference import fdd
from reference.video_adapter import batch_to_frames

FORMAT = 1
SPLITS = ("train", "probe")


class StreamItems:
    """The items of an unsupervised stream (dicts with video, instruction, target_caption, task;
    never a target), indexable: item i is the first item of `stream_fn(seed * 1_000_003 + i)`, so
    different seeds give disjoint draws and the probe split takes its own seed."""

    def __init__(self, stream_fn, seed: int, description: dict):
        self.stream_fn, self.seed, self.description = stream_fn, seed, description

    def __getitem__(self, index: int) -> dict:
        item = next(iter(self.stream_fn(self.seed * 1_000_003 + index)))
        return {k: item[k] for k in ("video", "instruction", "target_caption", "task")}

    def describe(self) -> dict:
        return {**self.description, "seed": self.seed}


def synth_sources(model, data_seed: int = 0, stream=None) -> dict:
    """Training items from `data_seed`, probe items from `data_seed + 1`, both drawn from
    `stream` = (stream_fn, description) (default: the synthetic world's, `synth_stream`)."""
    stream_fn, description = stream or synth_stream(model.config.resolution, model.config.num_frames)
    return {"train": StreamItems(stream_fn, data_seed, description),
            "probe": StreamItems(stream_fn, data_seed + 1, description)}


def synth_stream(size: int, num_frames: int):
    """The synthetic world's unsupervised edit clips, as `stream_fn(seed)` with its description."""
    from reference.data import make_stream

    return (lambda seed: make_stream("edit_clip", seed=seed, size=size, num_frames=num_frames),
            {"source": "synth edit_clip", "size": size, "num_frames": num_frames})


@dataclass
class BankItem:
    """One item of the bank: the inputs and the teachers' samples (latents)."""

    index: int
    video: np.ndarray  # uint8 (F, H, W, 3)
    instruction: str
    target_caption: str
    task: str
    source: torch.Tensor  # (F, C, h, w) source latents
    first: torch.Tensor | None  # (C, h, w) the edit teacher's first-frame edit, None without first-frame conditioning
    edit: torch.Tensor  # (C, F, h, w) the edit teacher's edit of every frame
    clip: torch.Tensor  # (C, F, h, w) the video teacher's clip

    def as_dict(self) -> dict:
        """The item as the FDD batch functions take it (`fdd.stack_items`, `fdd.prepare_batch`)."""
        out = {"index": self.index, "video": self.video, "instruction": self.instruction,
               "target_caption": self.target_caption, "task": self.task, "source": self.source,
               "edit": self.edit, "clip": self.clip}
        if self.first is not None:
            out["first"] = self.first
        return out


def teachers_digest(weights: str | Path) -> dict[str, str]:
    """The bytes of the teachers: each part's weights and configs."""
    from reference.checkpoint import part_paths

    return {name: cached_files_digest(path, (".safetensors", ".json", ".txt"))
            for name, path in part_paths(weights).items()}


class TeacherBank:
    """The bank of one checkpoint's teachers under one set of sampling settings.

    `model` is the loaded checkpoint (needed only to make missing items); `sources` maps each split
    to an indexable item source with `describe()`."""

    def __init__(self, root: str | Path, weights: str | Path, model, settings: fdd.FDDSettings, guidance: fdd.Guidance,
                 sources: dict):
        self.model, self.settings, self.guidance, self.sources = model, settings, guidance, sources
        self.facts = {
            "format": FORMAT,
            "teachers": teachers_digest(weights),
            "edit_guidance": list(guidance.edit),
            "video_guidance": guidance.video,
            "teacher_sample_steps": settings.teacher_sample_steps,
            "first_frame_steps": settings.first_frame_steps,
            "resolution": model.config.resolution,
            "num_frames": model.config.num_frames,
            "splits": {split: src.describe() for split, src in sorted(sources.items())},
        }
        self.key = json_hash(self.facts, 16)
        self.dir = Path(root) / self.key
        self._cache: dict[tuple[str, int], BankItem] = {}

    def size(self, split: str) -> int | None:
        """How many distinct items the split's source holds (None: endless, as a stream)."""
        source = self.sources.get(split)
        return None if source is None or not hasattr(source, "__len__") else len(source)

    def path(self, split: str, index: int) -> Path:
        return self.dir / split / f"{index:06d}.safetensors"

    def has(self, split: str, index: int) -> bool:
        return self.path(split, index).is_file()

    def get(self, split: str, index: int) -> BankItem:
        """The item, from memory, disk, or made now (and stored)."""
        key = (split, index)
        if key not in self._cache:
            if not self.has(split, index):
                self.make(split, index)
            self._cache[key] = self._read(split, index)
        return self._cache[key]

    @torch.no_grad()
    def make(self, split: str, index: int) -> None:
        """Make one item with the teachers and store it (atomically: a killed build leaves no half item)."""
        from safetensors.torch import save_file

        if not self.dir.joinpath("bank.json").is_file():
            atomic_write_text(self.dir / "bank.json", json.dumps({"key": self.key, **self.facts}, indent=2) + "\n")
        raw = self.sources[split][index]
        gen = torch.Generator().manual_seed(int(json_hash([split, index], 15), 16))
        items = {"video": raw["video"][None], **{k: [raw[k]] for k in ("instruction", "target_caption", "task")}}
        batch = fdd.prepare_batch(self.model, items, self.settings, self.guidance, gen)
        f = batch.num_frames
        edits = fdd.teacher_edit_samples(self.model, batch.cond, self.guidance.edit, self.settings.teacher_sample_steps, gen)
        clip = fdd.teacher_video_samples(self.model, batch, self.guidance.video, self.settings.teacher_sample_steps, gen)
        tensors = {
            "video": torch.from_numpy(np.ascontiguousarray(raw["video"][:f])),
            "source": batch.ctx.source,
            "edit": batch_to_frames(edits, f)[0],
            "clip": clip[0],
        }
        if batch.first is not None:
            tensors["first"] = batch.first[0]
        tensors = {k: v.detach().float().cpu().contiguous() if v.is_floating_point() else v.contiguous()
                   for k, v in tensors.items()}
        meta = {k: str(raw[k]) for k in ("instruction", "target_caption", "task")}
        with atomic_file(self.path(split, index), ".safetensors") as tmp:
            save_file(tensors, str(tmp), metadata=meta)

    def _read(self, split: str, index: int) -> BankItem:
        from safetensors import safe_open

        with safe_open(str(self.path(split, index)), framework="pt") as f:
            meta = f.metadata()
            t = {k: f.get_tensor(k) for k in f.keys()}
        return BankItem(index=index, video=t["video"].numpy(), instruction=meta["instruction"],
                        target_caption=meta["target_caption"], task=meta["task"], source=t["source"],
                        first=t.get("first"), edit=t["edit"], clip=t["clip"])

    def build(self, split: str, indices, progress: bool = True) -> int:
        """Make every missing item of `indices`; returns how many were made."""
        from tqdm import tqdm

        missing = [i for i in indices if not self.has(split, i)]
        for i in tqdm(missing, desc=f"bank {split}", disable=not progress):
            self.make(split, i)
        return len(missing)


def main() -> None:
    from reference.checkpoint import EVEModel

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default="reference/weights/synth", help="EVE checkpoint with both adapters")
    p.add_argument("--root", default="runs/fdd/bank", help="where banks live (one folder per key)")
    p.add_argument("--items", type=int, default=384, help="training items (indices 0 .. N-1)")
    p.add_argument("--probe-items", type=int, default=32, help="held-out probe items")
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--data", default="", help="items from your videos (reference.fdd_data; default: the synthetic world)")
    p.add_argument("--data-stride", type=int, default=2, help="with --data: take every N-th frame of a video")
    p.add_argument("--teacher-sample-steps", type=int, default=fdd.FDDSettings.teacher_sample_steps)
    p.add_argument("--first-frame-steps", type=int, default=fdd.FDDSettings.first_frame_steps)
    p.add_argument("--part", default="0/1", help="K/N: make every N-th missing item starting at K (parallel builds)")
    p.add_argument("--device", default=None)
    args = p.parse_args()
    k, n = (int(x) for x in args.part.split("/"))
    if not 0 <= k < n:
        p.error(f"--part K/N needs 0 <= K < N, got {args.part}")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = EVEModel.from_pretrained(args.weights, require=("edit_adapter", "video_adapter")).to(device)
    settings = fdd.FDDSettings(teacher_sample_steps=args.teacher_sample_steps, first_frame_steps=args.first_frame_steps)
    if args.data:
        from reference.fdd_data import ClipPolicy, video_sources

        policy = ClipPolicy(model.config.num_frames, args.data_stride, model.config.resolution)
        sources, report = video_sources(args.data, policy, args.probe_items, args.data_seed)
        print(report.line(), flush=True)
    else:
        sources = synth_sources(model, args.data_seed)
    bank = TeacherBank(args.root, args.weights, model, settings, fdd.resolve_guidance(settings, model.config.sampling),
                       sources)
    counts = {split: min(count, bank.size(split) or count) for split, count in
              (("train", args.items), ("probe", args.probe_items)) if split in sources}
    made = {split: bank.build(split, range(count)[k::n]) for split, count in counts.items()}
    print(json.dumps({"bank": str(bank.dir), "made": made, **{k: v for k, v in bank.facts.items() if k != "splits"}}))


if __name__ == "__main__":
    main()
