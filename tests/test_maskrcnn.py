"""Mask R-CNN: instance selection and filters on hand-made detections; the torchvision backend."""

import importlib.util

import numpy as np
import pytest

from drc.data.maskrcnn import (
    COCO_IDS,
    Detections,
    MaskRules,
    TorchvisionMaskRCNN,
    build_detector,
    largest_component_share,
    pseudo_label,
    select_mask,
)
from drc.data.real import DEFAULTS
from drc.errors import DRCError

DOG, PERSON, CAR, TRUCK = 18, 1, 3, 8
DOG_RULES = MaskRules.from_cfg(DEFAULTS["dogs"])


def box_mask(x1, y1, x2, y2, size=20, value=1.0):
    mask = np.zeros((size, size), np.float32)
    mask[y1:y2, x1:x2] = value
    return mask


def dets(*instances):
    """Detections from (label, score, mask) triples."""
    if not instances:
        return Detections(np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros((0, 20, 20), np.float32))
    labels, scores, masks = zip(*instances, strict=True)
    return Detections(np.array(labels), np.array(scores, np.float32), np.stack(masks))


def test_union_of_target_instances_above_threshold():
    two_dogs = dets(
        (DOG, 0.95, box_mask(2, 2, 8, 8)),
        (DOG, 0.92, box_mask(8, 2, 14, 8)),  # touches the first: one component
        (DOG, 0.30, box_mask(15, 15, 19, 19)),  # below score_threshold: ignored
        (CAR, 0.99, box_mask(0, 10, 20, 20)),  # not a target class
    )
    mask, reason = select_mask(two_dogs, DOG_RULES)
    assert reason is None
    assert (mask == (box_mask(2, 2, 14, 8) > 0)).all()


def test_mask_threshold_binarises_soft_masks():
    soft = box_mask(2, 2, 10, 10, value=0.6) + box_mask(10, 2, 18, 10, value=0.4)
    mask, reason = select_mask(dets((DOG, 0.95, soft)), DOG_RULES)
    assert reason is None and mask.sum() == 64 and mask[2:10, 2:10].all()


@pytest.mark.parametrize(
    ("instances", "reason"),
    [
        ((), "no_detection"),
        (((CAR, 0.99, box_mask(2, 2, 10, 10)),), "no_detection"),
        (((DOG, 0.40, box_mask(2, 2, 10, 10)),), "no_detection"),  # below score_threshold 0.5
        (((DOG, 0.95, box_mask(2, 2, 10, 10, value=0.3)),), "no_detection"),  # empty after mask_threshold
        (((DOG, 0.80, box_mask(2, 2, 10, 10)),), "low_confidence"),  # best score < min_top_score 0.9
        (((DOG, 0.95, box_mask(0, 0, 20, 19)),), "too_large"),  # 95% > max_fg_fraction 0.9
        (((DOG, 0.95, box_mask(0, 0, 5, 5)), (DOG, 0.95, box_mask(10, 10, 15, 15))), "fragmented"),
        (((DOG, 0.95, box_mask(2, 2, 8, 8)), (PERSON, 0.9, box_mask(10, 0, 20, 10))), "distractor"),
    ],
)
def test_drop_reasons(instances, reason):
    assert select_mask(dets(*instances), DOG_RULES) == (None, reason)


def test_small_or_weak_distractors_are_tolerated():
    small_person = dets((DOG, 0.95, box_mask(2, 2, 8, 8)), (PERSON, 0.9, box_mask(15, 15, 20, 20)))  # 6.25%
    weak_person = dets((DOG, 0.95, box_mask(2, 2, 8, 8)), (PERSON, 0.3, box_mask(10, 0, 20, 20)))
    assert select_mask(small_person, DOG_RULES)[1] is None
    assert select_mask(weak_person, DOG_RULES)[1] is None


def test_car_rules_only_drop_undetected_cars():
    rules = MaskRules.from_cfg(DEFAULTS["cars"])
    whole = dets((CAR, 0.6, box_mask(0, 0, 20, 20)), (PERSON, 0.99, box_mask(0, 0, 20, 20)))
    assert select_mask(whole, rules)[1] is None
    assert select_mask(dets((TRUCK, 0.99, box_mask(2, 2, 10, 10))), rules) == (None, "no_detection")


def test_largest_component_share():
    mask = np.zeros((10, 10), bool)
    assert largest_component_share(mask) == 0.0
    mask[0:2, 0:3] = True  # 6 px
    mask[5:7, 5:7] = True  # 4 px
    assert largest_component_share(mask) == pytest.approx(0.6)
    mask[2, 3] = mask[3, 4] = mask[4, 5] = True  # diagonal bridge: 8-connected into one part
    assert largest_component_share(mask) == 1.0


def test_pseudo_label_keeps_splits_and_counts():
    images = np.zeros((5, 20, 20, 3), np.uint8)
    canned = [
        dets((DOG, 0.95, box_mask(2, 2, 8, 8))),
        dets(),
        dets((DOG, 0.95, box_mask(4, 4, 9, 9))),
        dets((DOG, 0.7, box_mask(2, 2, 8, 8))),
        dets((DOG, 0.95, box_mask(1, 1, 5, 5))),
    ]
    calls = []

    def detector(batch):
        calls.append(len(batch))
        return canned[sum(calls) - len(batch) : sum(calls)]

    cfg = {**DEFAULTS["dogs"], "maskrcnn_batch_size": 2}
    split_of = ["train", "train", "test", "test", "train"]
    out = pseudo_label(images, list("abcde"), split_of, cfg, dataset="dogs", detector=detector)
    assert calls == [2, 2, 1]
    assert out["ids"] == ["a", "c", "e"]
    assert out["splits"] == {"train": [0, 2], "test": [1]}
    assert out["masks"].shape == (3, 20, 20) and out["masks"][1].sum() == 25
    stats = out["stats"]
    assert (stats["input"], stats["kept"]) == (5, 3)
    assert stats["dropped"] == {
        "no_detection": 1,
        "low_confidence": 1,
        "too_large": 0,
        "fragmented": 0,
        "distractor": 0,
    }
    assert stats["splits"]["train"]["dropped"]["no_detection"] == 1
    assert stats["splits"]["test"] == {
        "input": 2,
        "kept": 1,
        "dropped": {**stats["dropped"], "no_detection": 0},
    }
    assert stats["rules"]["target_labels"] == [18]


def test_coco_ids_map_detectron2_classes():
    assert len(COCO_IDS) == 80
    assert (COCO_IDS[0], COCO_IDS[2], COCO_IDS[7], COCO_IDS[16], COCO_IDS[-1]) == (
        PERSON,
        CAR,
        TRUCK,
        DOG,
        90,
    )


def test_torchvision_backend_random_weights_well_formed():
    """Random weights (no download): shapes, dtypes and ranges of the outputs on tiny images."""
    small = {"min_size": 64, "max_size": 96, "rpn_pre_nms_top_n_test": 50, "rpn_post_nms_top_n_test": 20}
    model = TorchvisionMaskRCNN(None, pretrained=False, box_score_thresh=0.0, box_detections_per_img=5, **small)
    images = [
        np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8),
        np.zeros((40, 40, 3), np.uint8),
    ]
    out = model(images)
    assert len(out) == 2
    for det, image in zip(out, images, strict=True):
        k = len(det.labels)
        assert det.scores.shape == (k,) and det.masks.shape == (k, *image.shape[:2])
        assert det.masks.dtype == np.float32 and det.masks.min() >= 0.0 and det.masks.max() <= 1.0
        assert ((det.labels >= 1) & (det.labels <= 90)).all() and ((det.scores >= 0) & (det.scores <= 1)).all()
        select_mask(det, DOG_RULES)  # consumable by the selection
    assert len(out[0].labels) == 5  # box_score_thresh 0 keeps the random model's detections


def test_missing_weights_file_is_one_clear_error(tmp_path):
    cfg = {**DEFAULTS["dogs"], "maskrcnn_weights": str(tmp_path / "w.pth"), "maskrcnn_device": "cpu"}
    with pytest.raises(DRCError, match=r"data\.dogs\.maskrcnn_weights = .*w\.pth does not exist; download https"):
        build_detector(cfg, dataset="dogs")


def test_unknown_backend(tmp_path):
    with pytest.raises(DRCError, match=r"data\.cars\.maskrcnn_backend is 'yolo'"):
        build_detector({**DEFAULTS["cars"], "maskrcnn_backend": "yolo"}, dataset="cars")


@pytest.mark.skipif(importlib.util.find_spec("detectron2") is not None, reason="detectron2 is installed here")
def test_detectron2_backend_absent_is_one_clear_error():
    with pytest.raises(DRCError, match="needs detectron2, which is not installed"):
        build_detector({**DEFAULTS["dogs"], "maskrcnn_backend": "detectron2"}, dataset="dogs")
