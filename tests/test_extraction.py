"""drc.extraction under real use: resuming image by image, masks keyed by content, an output folder that
is its own (or refused), outputs left out of the scan, progress inside a batch, warnings about odd masks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from drc import extraction
from drc.config import ReadoutConfig, SamplerConfig
from drc.errors import DRCError, Interrupted
from drc.extraction import MANIFEST, extract_folder
from tests.helpers import squares_on_stripes, tiny_checkpoint, torch_threads

# Several restarts, settling and a batch of 4 for 7 images (batches of 4 and 3, padded to 4): a resumed run
# regroups the images it has left, which changes every float if the batch shapes are not kept.
SAMPLER = SamplerConfig(steps=6, restarts=2, settle_steps=2, batch_size=4)
READOUT = ReadoutConfig()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    with torch_threads(1):  # tiny tensors: several times faster than 2 threads on a busy machine
        yield


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


def write_images(folder: Path, n: int = 7, seed: int = 3) -> list[Path]:
    images, _ = squares_on_stripes(n=n, res=40, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"im{i}.png" for i in range(n)]
    for path, image in zip(paths, images, strict=True):
        Image.fromarray(image).save(path)
    return paths


def outputs(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.png"))}


def tree(root: Path) -> dict[str, bytes | None]:
    return {p.relative_to(root).as_posix(): None if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


def interrupt_after(monkeypatch, k: int) -> None:
    """Ctrl-C as the (k + 1)-th image's outputs are about to be written."""
    real, calls = extraction._write, []

    def write(*args, **kwargs):
        if len(calls) == k:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(extraction, "_write", write)


@pytest.fixture(scope="module")
def uninterrupted(checkpoint, tmp_path_factory):
    """Seven images and their outputs from one uninterrupted run."""
    root = tmp_path_factory.mktemp("whole")
    write_images(root / "in")
    extract_folder(checkpoint, [root / "in"], root / "out", SAMPLER, READOUT, progress=False)
    return root / "in", outputs(root / "out")


@pytest.mark.parametrize("k", [0, 3, 5])  # before any image, inside the first batch, inside the second
def test_a_run_stopped_after_k_images_redoes_only_the_rest_and_writes_what_an_uninterrupted_one_would(
    checkpoint, uninterrupted, tmp_path, monkeypatch, k
):
    images, whole = uninterrupted
    with monkeypatch.context() as patch:
        interrupt_after(patch, k)
        with pytest.raises(Interrupted, match=f"stopped after {k} of 7 image"):
            extract_folder(checkpoint, [images], tmp_path / "part", SAMPLER, READOUT, progress=False)
    recorded = [json.loads(line) for line in (tmp_path / "part" / MANIFEST).read_text().splitlines()[1:]]
    assert len(recorded) == k  # each image recorded as it was written
    report = extract_folder(checkpoint, [images], tmp_path / "part", SAMPLER, READOUT, progress=False)
    assert (report.up_to_date, report.written) == (k, 7 - k)
    assert outputs(tmp_path / "part") == whole  # byte for byte


def test_identical_images_get_identical_masks_wherever_they_lie(checkpoint, tmp_path):
    paths = write_images(tmp_path / "in/a", n=6)
    (tmp_path / "in/b").mkdir()
    shutil.copy(paths[0], tmp_path / "in/b/zz_copy.png")  # the same pixels, last in the short second batch
    report = extract_folder(checkpoint, [tmp_path / "in"], tmp_path / "out", SAMPLER, READOUT, progress=False)
    assert report.written == 7
    out = tmp_path / "out"
    assert (out / "a/im0_mask.png").read_bytes() == (out / "b/zz_copy_mask.png").read_bytes()
    assert (out / "a/im0_cutout.png").read_bytes() == (out / "b/zz_copy_cutout.png").read_bytes()


def test_an_output_folder_inside_the_input_is_left_out_of_the_scan(checkpoint, tmp_path):
    write_images(tmp_path / "in", n=3)
    args = (checkpoint, [tmp_path / "in"], tmp_path / "in/cutouts", SAMPLER, READOUT)
    extract_folder(*args, preview=tmp_path / "in/sheet.png", progress=False)
    again = extract_folder(*args, preview=tmp_path / "in/sheet.png", progress=False)
    assert (again.written, again.up_to_date) == (0, 3)
    names = sorted(p.name for p in (tmp_path / "in/cutouts").iterdir())
    assert names == [MANIFEST, *sorted(f"im{i}_{kind}.png" for i in range(3) for kind in ("cutout", "mask"))]
    with pytest.raises(DRCError, match="is the input"):
        extract_folder(checkpoint, [tmp_path / "in"], tmp_path / "in", SAMPLER, READOUT, progress=False)


def test_a_folder_of_other_files_is_refused_and_forced_writes_leave_them_alone(checkpoint, tmp_path):
    write_images(tmp_path / "in", n=2)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "holiday.jpg").write_bytes(b"a photo")
    (theirs / "sheet.png").write_bytes(b"their picture")
    before = tree(theirs)
    with pytest.raises(DRCError, match="is a folder that is not an output folder of drc extract.*--force"):
        extract_folder(checkpoint, [tmp_path / "in"], theirs, SAMPLER, READOUT, progress=False)
    assert tree(theirs) == before
    sheet = theirs / "sheet.png"
    with pytest.raises(DRCError, match="sheet.png exists and is not a contact sheet drc extract wrote.*--force"):
        extract_folder(checkpoint, [tmp_path / "in"], tmp_path / "out", SAMPLER, READOUT, preview=sheet, progress=False)
    assert tree(theirs) == before and not (tmp_path / "out").exists()
    with pytest.raises(DRCError, match="theirs is a folder; name a file"):
        extract_folder(checkpoint, [tmp_path / "in"], tmp_path / "out", SAMPLER, READOUT, preview=theirs, force=True)
    assert tree(theirs) == before and not (tmp_path / "out").exists()

    extract_folder(checkpoint, [tmp_path / "in"], theirs, SAMPLER, READOUT, progress=False, force=True)
    after = tree(theirs)
    assert {k: after[k] for k in before} == before  # written into it; nothing of theirs touched
    assert sorted(set(after) - set(before)) == sorted([MANIFEST, "im0_cutout.png", "im0_mask.png", "im1_cutout.png",
                                                       "im1_mask.png"])  # fmt: skip


def test_a_contact_sheet_of_ours_is_replaced_and_named_in_the_manifest(checkpoint, tmp_path):
    write_images(tmp_path / "in", n=2)
    sheet = tmp_path / "sheet.png"
    args = (checkpoint, [tmp_path / "in"], tmp_path / "out", SAMPLER, READOUT)
    extract_folder(*args, preview=sheet, progress=False)
    first = sheet.read_bytes()
    sheet.write_bytes(b"stale")
    extract_folder(*args, preview=sheet, progress=False)  # its own sheet: written again
    assert sheet.read_bytes() == first
    assert {"preview": str(sheet.resolve())} in map(json.loads, (tmp_path / "out" / MANIFEST).read_text().splitlines())
    other = extract_folder(*args[:3], SamplerConfig(steps=2), READOUT, preview=sheet, progress=False)
    assert other.written == 2  # other settings redo every image, and the sheet is still its own


def test_empty_and_near_full_masks_are_warned_about_and_counted(checkpoint, tmp_path, monkeypatch, capsys):
    write_images(tmp_path / "in", n=4)
    coverage = iter([0.0, 0.004, 0.5, 0.96])
    real = extraction._write

    def write(*args, **kwargs):
        real(*args, **kwargs)
        return next(coverage)

    monkeypatch.setattr(extraction, "_write", write)
    report = extract_folder(checkpoint, [tmp_path / "in"], tmp_path / "out", SAMPLER, READOUT, progress=False)
    assert [p.name for p in report.empty] == ["im0.png", "im1.png"] and [p.name for p in report.near_full] == [
        "im3.png"
    ]
    out = capsys.readouterr().out
    assert f"warning: {tmp_path / 'in/im1.png'}: its mask covers 0.4 % of the image (empty)" in out
    assert f"warning: {tmp_path / 'in/im3.png'}: its mask covers 96.0 % of the image (near-full)" in out
    assert "im2.png" not in out


def test_images_of_formats_that_are_not_read_are_named_as_skipped(checkpoint, tmp_path, capsys):
    write_images(tmp_path / "in", n=2)
    (tmp_path / "in/phone.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    (tmp_path / "in/readme.txt").write_text("not an image")
    report = extract_folder(checkpoint, [tmp_path / "in"], tmp_path / "out", SAMPLER, READOUT, progress=False)
    assert report.written == 2 and report.failed == [(tmp_path / "in/phone.heic", extraction.unsupported_reason(
        tmp_path / "in/phone.heic"))]  # fmt: skip
    assert f"skipped {tmp_path / 'in/phone.heic'}: .heic images are not read here" in capsys.readouterr().out


def test_batches_are_filled_evenly():
    assert [extraction.batch_shape(n, 64) for n in (1, 19, 64, 65, 100, 129)] == [1, 19, 64, 33, 50, 43]


def test_the_progress_bar_counts_images_inside_a_batch(checkpoint, tmp_path, monkeypatch):
    bars = []

    class Bar(extraction.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.seen: list[float] = []
            bars.append(self)

        def update(self, n=1):
            self.seen.append(n)
            return super().update(n)

    monkeypatch.setattr(extraction, "tqdm", Bar)
    write_images(tmp_path / "in", n=5)  # batches of 3 and 2 (padded to 3)
    extract_folder(checkpoint, [tmp_path / "in"], tmp_path / "out", SAMPLER, READOUT)
    extract_folder(checkpoint, [tmp_path / "in"], tmp_path / "out", SAMPLER, READOUT)
    steps = SAMPLER.restarts * SAMPLER.steps + SAMPLER.settle_steps  # each image's chains, Langevin steps
    first, again = bars
    assert first.total == 5 and first.n == pytest.approx(5) and len(first.seen) == 2 * (steps + 1)
    assert first.seen[:steps] == pytest.approx([3 / steps] * steps)  # the first batch, step by step
    assert first.seen[steps + 1 : 2 * steps + 1] == pytest.approx([2 / steps] * steps)  # two images of 3 rows
    assert again.total == 0 and again.n == 0  # up-to-date images are not counted as work done
