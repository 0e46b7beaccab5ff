import cv2
import numpy as np
import pytest
import torch

from drc.augment import scale_saturation_value
from drc.config import TrainConfig
from drc.errors import DRCError
from drc.training import Trainer, batch_indices
from tests.helpers import images_to_tensor, squares_on_stripes, tiny_model_config, tiny_train_config


def hsv(x: torch.Tensor) -> np.ndarray:
    """N x 3 x H x W in [-1, 1] -> N x H x W x 3 HSV (OpenCV: hue in degrees, saturation and value in [0, 1])."""
    rgb = ((x + 1) / 2).permute(0, 2, 3, 1).numpy().astype(np.float32)
    return np.stack([cv2.cvtColor(image, cv2.COLOR_RGB2HSV) for image in rgb])


def test_saturation_and_value_scale_as_opencv_reads_them_and_hue_stays():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 16, 16, generator=gen) * 2 - 1
    saturation, value = torch.tensor([0.5, 1.0, 0.2]), torch.tensor([0.8, 0.6, 1.0])
    before, after = hsv(x), hsv(scale_saturation_value(x, saturation, value))
    np.testing.assert_allclose(after[..., 1], before[..., 1] * saturation.numpy()[:, None, None], atol=1e-5)
    np.testing.assert_allclose(after[..., 2], before[..., 2] * value.numpy()[:, None, None], atol=1e-5)
    hue_gap = np.abs(after[..., 0] - before[..., 0])
    assert np.minimum(hue_gap, 360 - hue_gap).max() < 0.01


def test_greys_keep_no_saturation_and_unit_factors_change_nothing():
    grey = torch.linspace(-1, 1, 16).view(1, 1, 4, 4).expand(2, 3, 4, 4).clone()
    out = scale_saturation_value(grey, torch.tensor([0.3, 0.0]), torch.ones(2))
    torch.testing.assert_close(out, grey)
    x = torch.rand(2, 3, 4, 4) * 2 - 1
    torch.testing.assert_close(scale_saturation_value(x, torch.ones(2), torch.ones(2)), x)


def test_the_trainer_feeds_each_image_one_draw_of_saturation_and_keeps_its_value():
    images, _ = squares_on_stripes(n=8)
    train = tiny_train_config(hflip=False, saturation_jitter=1.0, batch_size=4)
    trainer = Trainer(tiny_model_config(), train, images_to_tensor(images))
    seen = {}
    sample = trainer.sample_posterior

    def spy(z: torch.Tensor, x: torch.Tensor, steps: int) -> torch.Tensor:
        seen["x"] = x
        return sample(z, x, steps)

    trainer.sample_posterior = spy
    trainer.step()
    rows = batch_indices(8, 4, train.seed, 0)
    before, after = hsv(trainer.images[rows]), hsv(seen["x"])
    np.testing.assert_allclose(after[..., 2], before[..., 2], atol=1e-5)
    coloured = before[..., 1] > 0.2
    pairs = zip(after[..., 1], before[..., 1], coloured, strict=True)
    ratios = [np.unique(np.round(a[m] / b[m], 3)) for a, b, m in pairs]
    assert all(len(r) == 1 and 0 <= r[0] <= 1 for r in ratios), ratios  # one factor per image
    assert len({r[0] for r in ratios}) == len(rows)  # drawn per image


@pytest.mark.parametrize("knob", ["saturation_jitter", "value_jitter"])
def test_jitter_outside_zero_to_one_is_refused(knob):
    with pytest.raises(DRCError, match="must be in \\[0, 1\\]"):
        TrainConfig(**{knob: 1.5})
