"""Approximate ground-truth masks for Dogs and Cars with a COCO-pretrained Mask R-CNN.

As in the paper, the detector runs on the pre-processed (cropped, resized) images. Two backends:

- ``torchvision`` (default): ``maskrcnn_resnet50_fpn_v2`` with torchvision's COCO weights
  (box mAP 47.4, mask mAP 41.8). Runs wherever this project runs.
- ``detectron2``: R101-FPN 3x from the detectron2 model zoo, the paper's model. Optional; detectron2
  is not a dependency of this project.

Instance selection (``select_mask``, pure): the mask is the union of all target-class instances
scoring at least ``score_threshold`` (a union, not the single best instance, so images with several
dogs or a detection split in two keep the whole foreground), each binarised at ``mask_threshold``.
The image is dropped, with the first reason that applies, when: no such instance
(``no_detection``); the best target score is below ``min_top_score`` (``low_confidence``); the mask
covers more than ``max_fg_fraction`` of the image (``too_large``); its largest connected part holds
less than ``min_largest_component`` of it (``fragmented``); or a distractor-class instance (person)
scoring at least ``distractor_score`` covers more than ``max_distractor_fraction`` of the image
(``distractor``). Labels are COCO category ids: person 1, car 3, bus 6, truck 8, dog 18.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import URLError

import cv2
import numpy as np
import torch
from tqdm import tqdm

from drc.devices import resolve_device
from drc.errors import DRCError

REASONS = ("no_detection", "low_confidence", "too_large", "fragmented", "distractor")

# detectron2's 80 contiguous COCO classes -> COCO category ids (torchvision already uses the ids).
COCO_IDS = (
    *range(1, 12), *range(13, 26), 27, 28, *range(31, 45), *range(46, 66), 67, 70,
    *range(72, 83), *range(84, 91),
)  # fmt: skip
D2_CONFIG = "COCO-InstanceSegmentation/mask_rcnn_R_101_FPN_3x.yaml"


@dataclass(frozen=True)
class Detections:
    """One image's instances: COCO category ids, scores, and per-pixel foreground probabilities."""

    labels: np.ndarray  # K int
    scores: np.ndarray  # K float
    masks: np.ndarray  # K x H x W float in [0, 1]


# A batch of uint8 H x W x 3 RGB images -> one Detections per image.
Detector = Callable[[Sequence[np.ndarray]], list[Detections]]


@dataclass(frozen=True)
class MaskRules:
    """Instance selection and filter thresholds (params of the same names)."""

    target_labels: tuple[int, ...]
    score_threshold: float
    mask_threshold: float
    min_top_score: float
    max_fg_fraction: float
    min_largest_component: float
    distractor_labels: tuple[int, ...]
    distractor_score: float
    max_distractor_fraction: float

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any]) -> MaskRules:
        return cls(
            target_labels=tuple(int(v) for v in cfg["target_labels"]),
            score_threshold=float(cfg["score_threshold"]),
            mask_threshold=float(cfg["mask_threshold"]),
            min_top_score=float(cfg["min_top_score"]),
            max_fg_fraction=float(cfg["max_fg_fraction"]),
            min_largest_component=float(cfg["min_largest_component"]),
            distractor_labels=tuple(int(v) for v in cfg["distractor_labels"]),
            distractor_score=float(cfg["distractor_score"]),
            max_distractor_fraction=float(cfg["max_distractor_fraction"]),
        )


def select_mask(det: Detections, rules: MaskRules) -> tuple[np.ndarray | None, str | None]:
    """(foreground mask, None) for a kept image, (None, reason) for a dropped one."""
    target = np.isin(det.labels, rules.target_labels) & (det.scores >= rules.score_threshold)
    mask = (det.masks[target] > rules.mask_threshold).any(axis=0) if target.any() else None
    if mask is None or not mask.any():
        return None, "no_detection"
    if det.scores[target].max() < rules.min_top_score:
        return None, "low_confidence"
    if mask.mean() > rules.max_fg_fraction:
        return None, "too_large"
    if largest_component_share(mask) < rules.min_largest_component:
        return None, "fragmented"
    distractors = np.isin(det.labels, rules.distractor_labels) & (det.scores >= rules.distractor_score)
    covers = (det.masks[distractors] > rules.mask_threshold).mean(axis=(1, 2))
    if (covers > rules.max_distractor_fraction).any():
        return None, "distractor"
    return mask, None


def largest_component_share(mask: np.ndarray) -> float:
    """Fraction of the mask's pixels in its largest 8-connected component (0 for an empty mask)."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    areas = stats[1:count, cv2.CC_STAT_AREA]
    return float(areas.max() / areas.sum()) if len(areas) else 0.0


def pseudo_label(
    images: np.ndarray,
    ids: Sequence[str],
    split_of: Sequence[str],
    cfg: Mapping[str, Any],
    *,
    dataset: str,
    detector: Detector | None = None,
) -> dict[str, Any]:
    """Detect, select and filter; returns the kept images, masks, ids, splits and the counts.

    ``split_of[i]`` names image i's split; ``detector`` replaces the configured Mask R-CNN (tests).
    """
    detector = detector or build_detector(cfg, dataset=dataset)
    rules = MaskRules.from_cfg(cfg)
    batch_size = int(cfg["maskrcnn_batch_size"])
    masks = np.zeros(images.shape[:3], bool)
    reasons: list[str | None] = []
    with tqdm(total=len(images), desc=f"Mask R-CNN {dataset}", unit="img") as bar:
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            detections = detector(list(batch))
            if len(detections) != len(batch):
                raise ValueError(f"detector returned {len(detections)} results for {len(batch)} images")
            for offset, det in enumerate(detections):
                mask, reason = select_mask(det, rules)
                if mask is not None:
                    masks[start + offset] = mask
                reasons.append(reason)
            bar.update(len(batch))
    keep = [i for i, reason in enumerate(reasons) if reason is None]
    split_names = list(dict.fromkeys(split_of))
    return {
        "images": images[keep],
        "masks": masks[keep],
        "ids": [ids[i] for i in keep],
        "splits": {name: [row for row, i in enumerate(keep) if split_of[i] == name] for name in split_names},
        "stats": {
            **_counts(reasons),
            "splits": {
                name: _counts([r for r, s in zip(reasons, split_of, strict=True) if s == name]) for name in split_names
            },
            "rules": {key: list(v) if isinstance(v, tuple) else v for key, v in vars(rules).items()},
        },
    }


def _counts(reasons: Sequence[str | None]) -> dict[str, Any]:
    dropped = Counter(r for r in reasons if r is not None)
    return {
        "input": len(reasons),
        "kept": len(reasons) - sum(dropped.values()),
        "dropped": {reason: dropped[reason] for reason in REASONS},
    }


def build_detector(cfg: Mapping[str, Any], *, dataset: str) -> Detector:
    """The backend named by ``maskrcnn_backend`` with ``maskrcnn_weights`` on ``maskrcnn_device``."""
    backend = cfg["maskrcnn_backend"]
    device = str(resolve_device(cfg["maskrcnn_device"]))
    param = f"data.{dataset}.maskrcnn_weights"
    if backend == "torchvision":
        return TorchvisionMaskRCNN(cfg["maskrcnn_weights"], device=device, param=param)
    if backend == "detectron2":
        return Detectron2MaskRCNN(cfg["maskrcnn_weights"], device=device, param=param)
    raise DRCError(f"data.{dataset}.maskrcnn_backend is {backend!r}; use 'torchvision' or 'detectron2'")


class TorchvisionMaskRCNN:
    """torchvision's Mask R-CNN ResNet-50-FPN v2.

    ``weights_path`` None downloads torchvision's COCO weights into the torch hub cache (or uses the
    cached copy); ``pretrained=False`` keeps random weights (tests). ``model_kwargs`` go to the
    torchvision constructor (e.g. ``min_size``, ``box_score_thresh``).
    """

    def __init__(
        self,
        weights_path: str | Path | None,
        *,
        device: str = "cpu",
        param: str = "maskrcnn_weights",
        pretrained: bool = True,
        **model_kwargs: Any,
    ) -> None:
        from torchvision.models.detection import maskrcnn_resnet50_fpn_v2

        self.device = torch.device(device)
        self.model = maskrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None, **model_kwargs)
        if pretrained:
            self.model.load_state_dict(_torchvision_state_dict(weights_path, param))
        self.model.eval().to(self.device)

    @torch.inference_mode()
    def __call__(self, images: Sequence[np.ndarray]) -> list[Detections]:
        batch = [torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1).to(self.device) / 255.0 for im in images]
        return [
            Detections(
                labels=out["labels"].cpu().numpy(),
                scores=out["scores"].cpu().numpy(),
                masks=out["masks"][:, 0].cpu().numpy(),
            )
            for out in self.model(batch)
        ]


def _torchvision_state_dict(weights_path: str | Path | None, param: str) -> dict[str, Any]:
    from torchvision.models.detection import MaskRCNN_ResNet50_FPN_V2_Weights

    weights = MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1
    if weights_path is not None:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise DRCError(f"{param} = {path} does not exist; download {weights.url} there or fix the path")
        return torch.load(path, map_location="cpu", weights_only=True)
    try:
        return weights.get_state_dict(progress=True, check_hash=True)
    except (URLError, OSError) as exc:
        cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        raise DRCError(
            f"cannot download the Mask R-CNN weights {weights.url} ({exc}); fetch the file elsewhere and "
            f"set {param} to its path, or put it at {cache}"
        ) from exc


class Detectron2MaskRCNN:
    """detectron2's R101-FPN 3x (the paper's model); classes mapped to COCO category ids."""

    def __init__(self, weights_path: str | Path | None, *, device: str = "cpu", param: str = "maskrcnn_weights"):
        try:
            import detectron2.data.transforms as T
            from detectron2 import model_zoo
            from detectron2.checkpoint import DetectionCheckpointer
            from detectron2.config import get_cfg
            from detectron2.modeling import build_model
        except ImportError as exc:
            raise DRCError(
                "maskrcnn_backend 'detectron2' needs detectron2, which is not installed; install it "
                "(https://detectron2.readthedocs.io/en/latest/tutorials/install.html) or use 'torchvision'"
            ) from exc
        cfg = get_cfg()
        cfg.merge_from_file(model_zoo.get_config_file(D2_CONFIG))
        cfg.MODEL.DEVICE = device
        self.model = build_model(cfg).eval()
        source = str(Path(weights_path).expanduser()) if weights_path else model_zoo.get_checkpoint_url(D2_CONFIG)
        if weights_path and not Path(source).is_file():
            raise DRCError(f"{param} = {source} does not exist; fix the path or set it to null to download")
        try:
            DetectionCheckpointer(self.model).load(source)
        except (URLError, OSError) as exc:
            raise DRCError(
                f"cannot load the detectron2 weights {source} ({exc}); download "
                f"{model_zoo.get_checkpoint_url(D2_CONFIG)} elsewhere and set {param} to its path"
            ) from exc
        self.resize = T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST] * 2, cfg.INPUT.MAX_SIZE_TEST)
        self.bgr = cfg.INPUT.FORMAT == "BGR"

    @torch.inference_mode()
    def __call__(self, images: Sequence[np.ndarray]) -> list[Detections]:
        inputs = []
        for image in images:
            pixels = np.ascontiguousarray(image[:, :, ::-1]) if self.bgr else image
            resized = self.resize.get_transform(pixels).apply_image(pixels)
            tensor = torch.as_tensor(np.ascontiguousarray(resized.transpose(2, 0, 1)).astype(np.float32))
            inputs.append({"image": tensor, "height": image.shape[0], "width": image.shape[1]})
        results = []
        for out in self.model(inputs):
            instances = out["instances"].to("cpu")
            classes = instances.pred_classes.numpy()
            results.append(
                Detections(
                    labels=np.asarray(COCO_IDS, dtype=np.int64)[classes],
                    scores=instances.scores.numpy(),
                    masks=instances.pred_masks.numpy().astype(np.float32),
                )
            )
        return results
