"""The reference contact sheet and the backbone's text-to-image sampler, on a random tiny model."""

import numpy as np
import torch
from PIL import Image

from reference import sampling
from reference.checkpoint import EVEModel
from reference.studies.preview import write_reference_sheet


def test_generate_images_is_seeded_and_caption_dependent():
    model = EVEModel.from_preset("tiny", seed=0)
    run = lambda caps, seed: sampling.generate_images(model, caps, torch.Generator().manual_seed(seed), steps=2)  # noqa: E731
    a = run(["a red square", "a blue circle"], 0)
    assert a.shape == (2, 4, model.backbone.latent_size, model.backbone.latent_size)
    assert torch.equal(a, run(["a red square", "a blue circle"], 0))
    assert not torch.equal(a, run(["a red square", "a blue circle"], 1))
    assert not torch.allclose(a[:1], run(["a green triangle"], 0)[:1])


def test_reference_sheet_is_a_png_with_all_three_panels(tmp_path):
    model = EVEModel.from_preset("tiny", seed=0)
    path = write_reference_sheet(model, tmp_path / "docs" / "sheet.png", steps=1, frames_shown=2)
    image = np.asarray(Image.open(path))
    assert image.ndim == 3 and image.shape[0] > 1000 and image.shape[1] > 600
    assert not list(path.parent.glob(".*"))  # no temporary file left behind


def test_reference_sheet_shows_the_student_beside_the_edit_teacher(tmp_path):
    from reference.eve import EVEStudent
    from reference.student import attach_student, save_student

    model = EVEModel.from_preset("tiny", seed=0)
    model.save_pretrained(tmp_path / "ckpt")
    save_student(attach_student(model), tmp_path / "ckpt" / "align")  # an untrained student
    student = EVEStudent(weights=str(tmp_path / "ckpt"), steps=1, device="cpu")
    plain = np.asarray(Image.open(write_reference_sheet(model, tmp_path / "a.png", steps=1, frames_shown=2)))
    wide = np.asarray(Image.open(write_reference_sheet(model, tmp_path / "b.png", steps=1, frames_shown=2,
                                                       student=student)))
    assert wide.shape[0] == plain.shape[0] and wide.shape[1] > plain.shape[1]  # two more frame columns
