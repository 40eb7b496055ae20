"""Video value type and the few ways eve-bench reads and writes videos.

Frames are always uint8 numpy arrays shaped (T, H, W, 3): the smallest common ground between
decoders, models and metrics. Every writer goes through a temporary name and an atomic rename so
that a killed process never leaves a file or frame folder that looks finished.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from eve_bench.atomic import atomic_file, atomic_folder
from eve_bench.errors import VideoReadError
from eve_bench.hashing import named_bytes_hash
from eve_bench.paths import is_within


@dataclass(frozen=True, eq=False)
class Video:
    frames: np.ndarray  # uint8, (T, H, W, 3)
    fps: float = 10.0
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        problem = frames_problem(self.frames)
        if problem:
            raise ValueError(f"invalid video frames: {problem}")

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return int(self.frames.shape[1]), int(self.frames.shape[2])


def frames_problem(frames, shape: tuple | None = None) -> str | None:
    """Why `frames` is not a valid (T, H, W, 3) uint8 array (of `shape`, if given), or None.

    Cheap checks come first, and NaNs are looked for one frame at a time: a model's huge float64
    output of the wrong shape must not cost a full-size temporary array to reject.
    """
    if not isinstance(frames, np.ndarray):
        return f"expected a numpy array, got {type(frames).__name__}"
    if frames.ndim != 4 or frames.shape[-1] != 3:
        return f"expected shape (T, H, W, 3), got {tuple(frames.shape)}"
    if frames.shape[0] == 0 or frames.shape[1] == 0 or frames.shape[2] == 0:
        return f"empty video, shape {tuple(frames.shape)}"
    if shape is not None and frames.shape != tuple(shape):
        return f"shape {tuple(frames.shape)}, expected {tuple(shape)} (same frame count and size as the source)"
    if frames.dtype != np.uint8:
        if np.issubdtype(frames.dtype, np.floating) and any(np.isnan(f).any() for f in frames):
            return f"dtype {frames.dtype} with NaN values; expected uint8"
        return f"expected dtype uint8, got {frames.dtype}"
    return None


# ----------------------------------------------------------------------------------------------
# Reading


def probe_video(path: str | os.PathLike) -> tuple[int, int, int, float]:
    """(num_frames, height, width, fps) of a video file or frame folder, without decoding it all."""
    path = Path(path)
    if _is_folder(path):
        files = _frame_files(path)
        with _open_image(files[0]) as im:
            w, h = im.size
        return len(files), h, w, float("nan")
    reader = _decord_reader(path)
    h, w = reader[0].shape[:2]
    return len(reader), int(h), int(w), float(reader.get_avg_fps())


def read_video(path: str | os.PathLike, fps: float | None = None, *, expect: tuple[int, int, int] | None = None,
               within: str | os.PathLike | None = None, indices: list[int] | None = None) -> Video:
    """Decode a video file (decord) or a folder of frame images (in frame-number order, PIL): every
    frame, or only the frames at `indices`.

    `expect` (frames, height, width): the shape the video must have (an output must match its
    source), checked on the frame count and the image headers before anything is decoded, so a
    thousand frames or a 144-megapixel PNG cost no memory. `within`: a folder that nothing read may
    lie outside of, once symbolic links are resolved (an `eval` submission)."""
    path = Path(path)
    if within is not None and not is_within(path, within):
        raise VideoReadError(f"{path}: a symbolic link out of {within}; nothing outside it is read")
    if _is_folder(path):
        files = _frame_files(path, within)
        if expect is not None and len(files) != expect[0]:
            raise VideoReadError(f"{path}: {len(files)} frames, expected {expect[0]} (as many as the source)")
        if expect is not None:  # every header before any pixel
            for f in files:
                with _open_image(f) as im:
                    if im.size != (expect[2], expect[1]):
                        raise VideoReadError(f"{f}: {im.size[0]}x{im.size[1]} pixels, expected {expect[2]}x{expect[1]} "
                                             "(the source's size)")
        if indices is not None:
            files = [files[i] for i in indices]
        frames = []
        for f in files:
            with _open_image(f) as im:
                try:
                    frames.append(np.asarray(im.convert("RGB")))
                except OSError as e:
                    raise VideoReadError(f"{f}: cannot read frame ({e})") from e
        if len({fr.shape for fr in frames}) != 1:
            raise VideoReadError(f"{path}: frames differ in size")
        return Video(np.stack(frames), fps=fps or 10.0, meta={"path": str(path)})
    reader = _decord_reader(path)
    if expect is not None and len(reader) != expect[0]:
        raise VideoReadError(f"{path}: {len(reader)} frames, expected {expect[0]} (as many as the source)")
    try:
        frames = reader.get_batch(list(range(len(reader))) if indices is None else list(indices)).asnumpy()
    except Exception as e:  # decord raises its own DECORDError for broken streams
        raise VideoReadError(f"{path}: cannot decode frames ({e})") from e
    return Video(frames, fps=fps or float(reader.get_avg_fps()), meta={"path": str(path)})


def _is_folder(path: Path) -> bool:
    """True for a folder, False for a regular file; VideoReadError for anything else. A FIFO,
    socket or device is never opened: reading one could block for ever."""
    mode = _mode(path)
    if stat.S_ISDIR(mode):
        return True
    if stat.S_ISREG(mode):
        return False
    raise VideoReadError(f"{path}: not a regular file or folder (a FIFO, socket or device is never opened)")


def _mode(path: Path) -> int:
    try:
        return path.stat().st_mode
    except FileNotFoundError:
        raise VideoReadError(f"{path}: no such file or folder") from None
    except OSError as e:
        raise VideoReadError(f"{path}: cannot open ({e.strerror or e})") from None


def _open_image(file: Path) -> Image.Image:
    """An image opened lazily (PIL reads the header; pixels are decoded on use)."""
    try:
        return Image.open(file)
    except (OSError, Image.DecompressionBombError) as e:  # PIL's UnidentifiedImageError is an OSError
        raise VideoReadError(f"{file}: cannot read frame ({e})") from e


FRAME_SUFFIXES = {".jpg", ".jpeg", ".png"}
_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def _frame_files(folder: Path, within: str | os.PathLike | None = None) -> list[Path]:
    """A folder's frames in frame-number order: `0.jpg, 2.jpg, 10.jpg` as well as `00000.jpg ...`.

    Names are sorted by their trailing number, not as text (which puts 10 before 2). Names that do
    not say their place unambiguously (no number, two files with one number, mixed prefixes) are
    an error rather than a guess. Hidden files (macOS `._00001.jpg`, partial writes) are not frames.
    A frame that is not a regular file, or (with `within`) links out of that folder, is an error.
    """
    try:
        files = [p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and not p.name.startswith(".")]
    except OSError as e:
        raise VideoReadError(f"{folder}: cannot list frames ({e.strerror or e})") from None
    if not files:
        raise VideoReadError(f"{folder}: no .jpg/.png frames in folder")
    for f in files:
        if not stat.S_ISREG(_mode(f)):
            raise VideoReadError(f"{f}: not a regular file (a FIFO, socket or device is never opened)")
        if within is not None and not is_within(f, within):
            raise VideoReadError(f"{f}: a symbolic link out of {within}; nothing outside it is read")
    by_number: dict[int, Path] = {}
    prefixes = set()
    for f in sorted(files):
        m = _NUMBERED.match(f.stem)
        if m is None:
            raise VideoReadError(f"{folder}: frame {f.name!r} has no frame number; name frames 00000.jpg, 00001.jpg, ...")
        n = int(m.group(2))
        if n in by_number:
            raise VideoReadError(f"{folder}: {by_number[n].name!r} and {f.name!r} are both frame {n}")
        by_number[n] = f
        prefixes.add(m.group(1))
    if len(prefixes) > 1:
        raise VideoReadError(f"{folder}: frame names have different prefixes ({', '.join(map(repr, sorted(prefixes)))})")
    return [by_number[n] for n in sorted(by_number)]


def frames_digest(folder: str | os.PathLike) -> str | None:
    """Hash of a frame folder's frame names and bytes, in frame order; None when it holds none.

    A record stores the digest of the frames it scored, so a resumed run serves it only while
    exactly those frames are on disk (not frames another run wrote, not a folder missing some).
    """
    try:
        files = _frame_files(Path(folder))
    except (VideoReadError, OSError):
        return None
    return named_bytes_hash((f.name, f.read_bytes()) for f in files)


def _decord_reader(path: Path):
    """A decord reader of a regular file (never a FIFO or device: `_is_folder` checked it)."""
    import decord

    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
    except Exception as e:
        raise VideoReadError(f"{path}: cannot open video ({e})") from e
    if len(reader) == 0:
        raise VideoReadError(f"{path}: video has no frames")
    return reader


# ----------------------------------------------------------------------------------------------
# Writing (always atomic)


def write_frames_dir(video: Video, folder: str | os.PathLike, quality: int = 95) -> None:
    """Write frames as 00000.jpg, 00001.jpg, ... (the TGVE submission layout), atomically: an
    older folder of the same name is replaced only once the new one is complete."""
    with atomic_folder(folder) as tmp:
        for i, frame in enumerate(video.frames):
            Image.fromarray(frame).save(tmp / f"{i:05d}.jpg", quality=quality, subsampling=0)


def write_mp4(video: Video, path: str | os.PathLike, crf: int = 18) -> None:
    """Encode an H.264 mp4 preview with PyAV, atomically. Odd sizes are padded to even."""
    import av

    frames = video.frames
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    # PyAV picks the container from the extension: the temporary name ends in .tmp.mp4.
    with atomic_file(path, ext=".mp4") as tmp, av.open(str(tmp), mode="w") as container:
        stream = container.add_stream("libx264", rate=max(1, round(video.fps)))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        # Regenerated previews should change only where their frames do. Re-encoding the same
        # frames changed about half of a leaderboard's files: the encoder reads past each row's end
        # into padding PyAV leaves uninitialised, and its threads vary too. Zeroed padding and one
        # thread left 1 changed file in 6 regenerations of 28.
        stream.options = {"crf": str(crf), "x264-params": "threads=1"}
        for frame in frames:
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p")
            for plane in picture.planes:
                rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size).copy()
                rows[:, plane.width:] = 0
                plane.update(rows.tobytes())
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize every frame to (height, width) with PIL bicubic."""
    h, w = size
    if frames.shape[1:3] == (h, w):
        return frames
    return np.stack([np.asarray(Image.fromarray(f).resize((w, h), Image.BICUBIC)) for f in frames])
