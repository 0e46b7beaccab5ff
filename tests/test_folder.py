"""Importing a folder of your own images: formats, orientation, squaring, masks and bad files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from drc.data.folder import prepare_folder, read_image, read_mask, scan_images, square
from drc.data.prepared import Prepared
from drc.errors import DRCError
from tests.photo_folder import write_photo_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    masks = tmp_path_factory.mktemp("masks")
    seen = write_photo_folder(root / "in", masks)
    return root / "in", masks, seen


def test_every_image_is_found_recursively_and_read_upright_as_rgb(folder):
    root, masks, seen = folder
    scan = scan_images(root)
    found = [p.relative_to(root).as_posix() for p in scan.images]
    assert found == sorted([*seen, "c/broken.jpg", "c/empty.png"])  # hidden folders left out
    assert [p.relative_to(root).as_posix() for p in scan.unsupported] == ["c/phone.HEIC"]
    for rel, shape in seen.items():
        image = read_image(root / rel)
        assert image.dtype == np.uint8 and image.shape == (*shape, 3), rel
    assert (read_image(root / "rgba.png")[~read_mask(masks / "rgba.png")] == 255).all()  # transparent: white
    grey = read_image(root / "sixteen.tif")
    assert (grey[..., 0] == grey[..., 2]).all() and grey.max() > 100  # 16-bit scaled to 8 bits, not clipped


def test_prepare_writes_squares_with_masks_and_reports_what_it_skipped(folder, tmp_path, capsys):
    root, masks, seen = folder
    out = prepare_folder(root, tmp_path / "prepared", resolution=32, masks=masks)
    prepared = Prepared.open(out)
    kept = sorted(set(seen) - {"c/no_mask.png"})
    assert prepared.meta["ids"] == kept and prepared.images.shape == (len(kept), 32, 32, 3)
    assert prepared.masks.shape == (len(kept), 32, 32) and prepared.masks.any()
    stats = prepared.meta["stats"]
    assert (stats["found"], stats["kept"], stats["skipped"]) == (len(seen) + 3, len(kept), 4)
    reasons = {s["path"]: s["reason"] for s in stats["skipped_files"]}
    assert set(reasons) == {"c/broken.jpg", "c/empty.png", "c/no_mask.png", "c/phone.HEIC"}
    assert "cannot be read" in reasons["c/empty.png"] and "no mask" in reasons["c/no_mask.png"]
    assert reasons["c/phone.HEIC"] == ".heic images are not read here; convert it to JPEG or PNG"
    assert "skipped c/broken.jpg" in capsys.readouterr().out
    rotated = kept.index("rotated.jpg")  # a mask that follows its image's EXIF turn stays on the image
    image = prepared.images[rotated].astype(int)
    assert image[prepared.masks[rotated]].std(0).max() < 40  # one colour under the mask: the square


def test_without_masks_it_prepares_unlabelled_images(folder, tmp_path):
    root, _, seen = folder
    prepared = Prepared.open(prepare_folder(root, tmp_path / "p", resolution=32, fit="pad"))
    assert prepared.masks is None and len(prepared) == len(seen)
    with pytest.raises(DRCError, match="has no masks to score against"):
        prepared.labelled_masks()


def test_square_crops_or_pads_about_the_centre():
    wide = np.arange(2 * 4).reshape(2, 4)
    assert square(wide, "crop").tolist() == [[1, 2], [5, 6]]
    assert square(wide, "pad").tolist() == [[0, 1, 2, 3], [0, 1, 2, 3], [4, 5, 6, 7], [4, 5, 6, 7]]


def test_a_folder_without_readable_images_is_one_clear_error(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad/only.jpg").write_bytes(b"nope")
    with pytest.raises(DRCError, match="no readable image"):
        prepare_folder(tmp_path / "bad", tmp_path / "out")
    with pytest.raises(DRCError, match="is not a folder"):
        prepare_folder(tmp_path / "missing", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    Image.new("RGB", (4, 4)).save(tmp_path / "one.png")
    with pytest.raises(DRCError, match="mask folder"):
        prepare_folder(tmp_path, tmp_path / "out", masks=tmp_path / "nowhere")


def tree(root):
    return {p.relative_to(root).as_posix(): None if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


def test_preparing_again_replaces_only_its_own_files(folder, tmp_path):
    root, masks, seen = folder
    out = prepare_folder(root, tmp_path / "p", resolution=16, masks=masks)
    (out / "notes.txt").write_text("mine")
    prepare_folder(root, out, resolution=16)  # again, without masks: the earlier masks.npy is its own, and goes
    assert sorted(p.name for p in out.iterdir()) == ["images.npy", "meta.json", "notes.txt"]
    assert Prepared.open(out).masks is None and (out / "notes.txt").read_text() == "mine"


def test_a_folder_of_other_files_or_the_input_itself_is_refused_byte_for_byte(folder, tmp_path):
    root, _, seen = folder
    before = tree(root)
    with pytest.raises(DRCError, match="is the input"):
        prepare_folder(root, root, resolution=16)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "model.pt").write_bytes(b"two days of training")
    with pytest.raises(DRCError, match="is a folder that is not a prepared dataset.*--force"):
        prepare_folder(root, theirs, resolution=16)
    assert tree(root) == before and tree(theirs) == {"model.pt": b"two days of training"}
    prepare_folder(root, theirs, resolution=16, force=True)
    assert tree(root) == before and (theirs / "model.pt").read_bytes() == b"two days of training"
    assert len(Prepared.open(theirs)) == len(seen)


def test_an_output_or_mask_folder_inside_the_input_is_left_out_of_the_scan(tmp_path):
    write_photo_folder(tmp_path / "photos", tmp_path / "photos/masks")
    out = prepare_folder(
        tmp_path / "photos", tmp_path / "photos/prepared", resolution=16, masks=tmp_path / "photos/masks"
    )
    ids = Prepared.open(out).meta["ids"]
    assert ids and not [i for i in ids if i.startswith(("masks/", "prepared/"))]
