"""The paper's numbers (the paper's Tables 1-4): IoU / Dice in percent; None where the paper has no entry."""

from __future__ import annotations

Score = tuple[float, float]  # (IoU, Dice)

# Dataset keys of params.yaml -> the paper's column names, in the paper's order.
DATASETS = {"birds": "Birds", "dogs": "Dogs", "cars": "Cars", "clevr6": "CLEVR6", "tmdsprites": "TM-dSprites"}
# Datasets of this project that the paper has no column for, with their display names.
# clevr6_rendered has a column of its own: CLEVR scenes rendered here, not DeepMind's files the paper scored.
VARIANTS = {
    "tmdsprites_colour": "TM-dSprites, coloured gratings",
    "clevr6_rendered": "CLEVR6, rendered here",
}

# Table 1: scores on the training data.
TABLE1: dict[str, dict[str, Score | None]] = {
    "GrabCut": {
        "birds": (30.2, 42.7),
        "dogs": (58.3, 70.9),
        "cars": (61.3, 73.1),
        "clevr6": (19.0, 30.5),
        "tmdsprites": (61.9, 71.0),
    },
    "ReDO": {
        "birds": (46.5, 60.2),
        "dogs": (55.7, 70.3),
        "cars": (52.5, 68.6),
        "clevr6": (18.6, 31.0),
        "tmdsprites": (9.4, 17.2),
    },
    "IODINE": {
        "birds": (30.9, 44.6),
        "dogs": (54.4, 67.0),
        "cars": (51.7, 67.3),
        "clevr6": (19.9, 32.4),
        "tmdsprites": (7.3, 12.8),
    },
    "Slot Attention": {
        "birds": (35.6, 51.5),
        "dogs": (38.6, 55.3),
        "cars": (41.3, 58.3),
        "clevr6": (83.6, 90.7),
        "tmdsprites": (7.3, 13.5),
    },
    "OneGAN (weakly sup.)": {
        "birds": (55.5, 69.2),
        "dogs": (71.0, 81.7),
        "cars": (71.2, 82.6),
        "clevr6": None,
        "tmdsprites": None,
    },
    "W-Net": {"birds": (24.8, 38.9), "dogs": (47.7, 62.1), "cars": (52.8, 67.6), "clevr6": None, "tmdsprites": None},
    "DRC": {
        "birds": (56.4, 70.9),
        "dogs": (71.7, 83.2),
        "cars": (72.4, 83.7),
        "clevr6": (84.7, 91.5),
        "tmdsprites": (78.8, 87.5),
    },
}

# Table 2: ablations on Birds, in the paper's row order.
TABLE2_DATASET = "birds"
TABLE2: dict[str, Score | None] = {
    "amortized inference": None,
    "w/o pixel re-assignment": (21.8, 35.3),
    "w/o pseudo label": (48.7, 64.2),
    "w/o TV-norm": (53.0, 68.1),
    "w/o ortho reg": (54.3, 69.2),
    "short-run chain": (52.5, 67.7),
    "full": (56.4, 70.9),
}

# Table 3: {method: {dataset: {"train" | "test": (IoU, Dice)}}}.
TABLE3: dict[str, dict[str, dict[str, Score]]] = {
    "DRC": {
        "birds": {"train": (54.8, 69.5), "test": (54.6, 69.4)},
        "dogs": {"train": (71.6, 83.2), "test": (72.3, 83.6)},
        "cars": {"train": (71.9, 83.3), "test": (70.8, 82.5)},
    },
    "GrabCut": {
        "birds": {"train": (30.2, 42.7), "test": (30.3, 42.8)},
        "dogs": {"train": (58.3, 70.8), "test": (57.9, 70.5)},
        "cars": {"train": (60.9, 72.7), "test": (61.6, 73.5)},
    },
    "ReDO": {
        "birds": {"train": (46.8, 61.4), "test": (47.1, 61.7)},
        "dogs": {"train": (54.3, 69.2), "test": (52.8, 67.9)},
        "cars": {"train": (52.6, 68.7), "test": (52.5, 68.6)},
    },
}

# Table 4: {(test data, train data): {method: (IoU, Dice)}}, in the paper's row order.
TABLE4: dict[tuple[str, str], dict[str, Score]] = {
    ("birds", "dogs"): {"ReDO": (22.2, 35.3), "DRC": (41.3, 57.4)},
    ("birds", "cars"): {"ReDO": (16.4, 27.7), "DRC": (39.2, 55.3)},
    ("dogs", "cars"): {"ReDO": (44.5, 61.2), "DRC": (67.8, 80.4)},
    ("dogs", "birds"): {"ReDO": (44.0, 60.3), "DRC": (53.6, 69.1)},
    ("cars", "dogs"): {"ReDO": (51.6, 67.1), "DRC": (68.6, 81.0)},
    ("cars", "birds"): {"ReDO": (41.8, 58.6), "DRC": (45.1, 61.7)},
}
