"""The contact sheet of the synth suite."""

from PIL import Image

from eve_bench.synth.preview import write_contact_sheet


def test_contact_sheet_is_a_png_with_a_row_per_task(tmp_path):
    path = write_contact_sheet(tmp_path / "sheet" / "synth.png", seed=1, num_frames=4, size=32, frames_shown=2)
    with Image.open(path) as im:
        assert im.format == "PNG"
        width, height = im.size
    assert height > 7 * 100 and width > height
    assert [p.name for p in path.parent.iterdir()] == ["synth.png"]  # no temporary file left behind
