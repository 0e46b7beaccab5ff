"""drc.baselines.registry: every baseline the stage and bench.set_spread score, by name."""

import numpy as np

from drc.baselines.colour import REDRAWING, colour_grabcut_masks, colour_masks
from drc.baselines.grabcut import grabcut_masks
from drc.baselines.registry import BASELINES
from drc.config import GrabCutConfig, to_dict


def sprite_on_stripes() -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[:48, :48]
    images = np.repeat((128 + 90 * np.sin(xx / 2.0)).astype(np.uint8)[None, ..., None], 3, axis=-1).repeat(2, axis=0)
    truth = np.zeros((2, 48, 48), bool)
    truth[0] = (yy - 24) ** 2 + (xx - 24) ** 2 < 64
    truth[1] = (yy - 30) ** 2 + (xx - 20) ** 2 < 49
    images[truth] = (30, 200, 60)
    return images, truth


def test_each_baseline_gives_its_functions_masks_and_records_its_settings():
    images, _ = sprite_on_stripes()
    before = images.copy()
    cfg = GrabCutConfig(margin=0.1, workers=1)
    expected = {
        "GrabCut": grabcut_masks(images, 0.1, cfg.iterations, workers=1, progress=False)[0],
        "Colour": colour_masks(images),
        "Colour+GrabCut": colour_grabcut_masks(images, progress=False),
    }
    assert list(BASELINES) == list(expected)
    for method, baseline in BASELINES.items():
        masks, extra = baseline.masks(images, cfg, False)
        assert np.array_equal(masks, expected[method]), method
        assert np.array_equal(images, before)
    assert BASELINES["GrabCut"].masks(images, cfg, False)[1] == {"failed": 0}
    assert BASELINES["GrabCut"].settings(cfg) == {"grabcut": to_dict(cfg)}
    assert BASELINES["Colour+GrabCut"].settings(cfg) == {"redrawing": REDRAWING}
    assert len({b.stem for b in BASELINES.values()}) == len(BASELINES)  # one file name each
