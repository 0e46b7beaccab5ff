"""drc.baselines.registry: every baseline the baselines stage scores, by name."""

import numpy as np

from drc.baselines.colour import REDRAWING, colour_grabcut_masks, colour_masks
from drc.baselines.grabcut import grabcut_masks
from drc.baselines.registry import BASELINES
from drc.config import GrabCutConfig, to_dict
from tests.helpers import squares_on_stripes


def test_each_baseline_gives_its_functions_masks_and_records_its_settings():
    images, _ = squares_on_stripes(n=3, res=48)
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
