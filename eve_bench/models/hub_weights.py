"""Where public model weights come from: a local folder or the local Hugging Face cache, never the
network. A run must not start a multi-gigabyte download half-way through a suite, so a source that
is not on this machine is reported at once with the command that fetches it, and only safetensors
are accepted (a pickled .bin can run code when loaded).

Only huggingface_hub is imported here, so a missing-weights error comes in well under a second,
before torch or diffusers load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eve_bench.errors import ModelNotReadyError

PICKLED = {".bin", ".pt", ".pth", ".ckpt", ".pkl"}
# What a diffusers load never reads: pickled and framework-specific weights, and the fp16 variants
# (the adapter loads the full-precision files and casts them with `dtype`).
_EXCLUDE = ("*.bin", "*.ckpt", "*.pt", "*.pth", "*.msgpack", "*.h5", "*.onnx", "*.fp16.*")


@dataclass(frozen=True)
class Source:
    """One set of weights a model needs: `role` names it in messages (the model arg that sets it),
    `spec` is a folder or a hub id, `pipeline` whether it is a whole pipeline (model_index.json and
    one subfolder per component) or a single model (config.json at its root)."""

    role: str
    spec: str
    pipeline: bool = True

    def download_command(self) -> str:
        # Only a pipeline's subfolders: some repos also hold multi-GB single-file checkpoints at their root.
        include = ' --include "model_index.json" --include "*/*"' if self.pipeline else ""
        exclude = "".join(f' --exclude "{p}"' for p in _EXCLUDE)
        return f"hf download {self.spec}{include}{exclude}"


def is_hub_id(spec: str) -> bool:
    """"owner/name" with nothing that makes it a path."""
    parts = spec.split("/")
    return len(parts) == 2 and all(parts) and not spec.startswith((".", "~")) and "\\" not in spec


def locate(sources: list[Source]) -> dict[str, Path]:
    """Each source's local folder; ModelNotReadyError listing every missing one with its command."""
    found, missing = {}, []
    for src in sources:
        path = _local(src)
        if path is None:
            missing.append(src)
        else:
            found[src.role] = path
    if missing:
        lines = []
        for src in missing:
            if is_hub_id(src.spec):
                lines.append(f"  {src.role}={src.spec}: not in the local Hugging Face cache ({_cache_dir()}); "
                             f"fetch it with\n      {src.download_command()}")
            else:
                lines.append(f"  {src.role}={src.spec}: no such folder")
        raise ModelNotReadyError("weights missing (runs never download; fetch them first, or pass a folder):\n"
                                 + "\n".join(lines))
    for src in sources:
        refuse_pickles(found[src.role], src)
    return found


def _local(src: Source) -> Path | None:
    path = Path(src.spec).expanduser()
    if path.is_dir():
        return path
    if not is_hub_id(src.spec):
        return None
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(src.spec, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError):
        return None


def _cache_dir() -> str:
    from huggingface_hub.constants import HF_HUB_CACHE

    return str(HF_HUB_CACHE)


def refuse_pickles(folder: Path, src: Source) -> None:
    """A folder (or any component subfolder) whose weights are only pickles is refused, with how
    to convert it once."""
    for sub in [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]:
        files = [f for f in sub.iterdir() if f.is_file()]
        pickled = [f.name for f in files if f.suffix in PICKLED]
        if pickled and not any(f.name.endswith(".safetensors") for f in files):
            loader = "DiffusionPipeline" if src.pipeline else "AutoModel"
            raise ModelNotReadyError(
                f"{src.role}={src.spec}: {sub} holds only pickled weights ({', '.join(sorted(pickled))}); only "
                f"safetensors are loaded, since unpickling can run code. Convert a copy you trust once: "
                f"python -c \"from diffusers import {loader}; {loader}.from_pretrained('{folder}', use_safetensors=False)"
                f".save_pretrained('{folder}-safetensors')\" and pass {src.role}={folder}-safetensors"
            )
