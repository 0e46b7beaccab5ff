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


# Table 1: scores on the training data, one entry per dataset of DATASETS, in its order.
def _by_dataset(*scores: Score | None) -> dict[str, Score | None]:
    return dict(zip(DATASETS, scores, strict=True))


TABLE1: dict[str, dict[str, Score | None]] = {
    "GrabCut": _by_dataset((30.2, 42.7), (58.3, 70.9), (61.3, 73.1), (19.0, 30.5), (61.9, 71.0)),
    "ReDO": _by_dataset((46.5, 60.2), (55.7, 70.3), (52.5, 68.6), (18.6, 31.0), (9.4, 17.2)),
    "IODINE": _by_dataset((30.9, 44.6), (54.4, 67.0), (51.7, 67.3), (19.9, 32.4), (7.3, 12.8)),
    "Slot Attention": _by_dataset((35.6, 51.5), (38.6, 55.3), (41.3, 58.3), (83.6, 90.7), (7.3, 13.5)),
    "OneGAN (weakly sup.)": _by_dataset((55.5, 69.2), (71.0, 81.7), (71.2, 82.6), None, None),
    "W-Net": _by_dataset((24.8, 38.9), (47.7, 62.1), (52.8, 67.6), None, None),
    "DRC": _by_dataset((56.4, 70.9), (71.7, 83.2), (72.4, 83.7), (84.7, 91.5), (78.8, 87.5)),
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

# Table 3: {method: {dataset: {"train" | "test": (IoU, Dice)}}}, one (train, test) pair per dataset of
# SPLIT_DATASETS, in its order.
SPLIT_DATASETS = ("birds", "dogs", "cars")


def _by_split(*train_test: tuple[Score, Score]) -> dict[str, dict[str, Score]]:
    return {d: {"train": train, "test": test} for d, (train, test) in zip(SPLIT_DATASETS, train_test, strict=True)}


TABLE3: dict[str, dict[str, dict[str, Score]]] = {
    "DRC": _by_split(((54.8, 69.5), (54.6, 69.4)), ((71.6, 83.2), (72.3, 83.6)), ((71.9, 83.3), (70.8, 82.5))),
    "GrabCut": _by_split(((30.2, 42.7), (30.3, 42.8)), ((58.3, 70.8), (57.9, 70.5)), ((60.9, 72.7), (61.6, 73.5))),
    "ReDO": _by_split(((46.8, 61.4), (47.1, 61.7)), ((54.3, 69.2), (52.8, 67.9)), ((52.6, 68.7), (52.5, 68.6))),
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
