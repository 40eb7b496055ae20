"""The weights a public model needs (`Source`), found through the one local-weights resolver
(eve_bench.encoders.local_weights: a folder or the local Hugging Face cache, never the network,
safetensors only). A source that is not on this machine is reported at once with the command that
fetches it, before torch or diffusers load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eve_bench.encoders.local_weights import hub_cache, is_hub_id, local_folder, pickled_only
from eve_bench.errors import ModelNotReadyError

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


def locate(sources: list[Source]) -> dict[str, Path]:
    """Each source's local folder; ModelNotReadyError listing every missing one with its command."""
    found, missing = {}, []
    for src in sources:
        path = local_folder(src.spec)
        if path is None:
            missing.append(src)
        else:
            found[src.role] = path
    if missing:
        lines = []
        for src in missing:
            if is_hub_id(src.spec):
                lines.append(f"  {src.role}={src.spec}: not in the local Hugging Face cache ({hub_cache()}); "
                             f"fetch it with\n      {src.download_command()}")
            else:
                lines.append(f"  {src.role}={src.spec}: no such folder")
        raise ModelNotReadyError("weights missing (runs never download; fetch them first, or pass a folder):\n"
                                 + "\n".join(lines))
    for src in sources:
        refuse_pickles(found[src.role], src)
    return found


def refuse_pickles(folder: Path, src: Source) -> None:
    """A folder (or any component subfolder) whose weights are only pickles is refused, with how
    to convert it once."""
    for sub in [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]:
        pickled = pickled_only(sub)
        if pickled:
            loader = "DiffusionPipeline" if src.pipeline else "AutoModel"
            raise ModelNotReadyError(
                f"{src.role}={src.spec}: {sub} holds only pickled weights ({', '.join(pickled)}); only "
                f"safetensors are loaded, since unpickling can run code. Convert a copy you trust once: "
                f"python -c \"from diffusers import {loader}; {loader}.from_pretrained('{folder}', use_safetensors=False)"
                f".save_pretrained('{folder}-safetensors')\" and pass {src.role}={folder}-safetensors"
            )
