"""Labelled training data in annotations/: load it, split it, turn it into X and Y.

Each line of ``annotations/training/*.jsonl[.gz]`` is one labelled passage:

    {"id", "text", "psc", "naics", "labels": [...], "evidence": {label: quote},
     "group", "split": "train"|"dev", "source", "annotator", "method", "note"}

``group`` is the award the text comes from (texts of one award share a group,
and the split keeps each group on one side) or the PDF it comes from.
"""
from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from extract.errors import InputError
from .classifier import LABELS

TRAINING_DIR = Path(__file__).resolve().parent.parent / "annotations" / "training"
# Files of the evaluation pool (../shared/data/README.md), matched in a source path: examples
# whose text comes from them must never reach the training data.
EVALUATION_POOL = ("FY2024", "FY2025", "FY2026", "ice_fy13_fy18_usaspending_archive")


@dataclass
class Example:
    id: str
    text: str
    psc: str = ""
    naics: str = ""
    labels: list[str] = field(default_factory=list)
    evidence: dict = field(default_factory=dict)
    group: str = ""
    split: str = "train"
    source: dict = field(default_factory=dict)
    annotator: str = ""
    method: str = ""
    note: str = ""

    @property
    def triple(self) -> tuple[str, str, str]:
        return (self.text, self.psc, self.naics)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: dict) -> "Example":
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


def load_examples(paths: list[Path] | None = None) -> list[Example]:
    """All labelled examples, in file order; a bad line is an InputError."""
    if paths is None:
        paths = training_files()
    if not paths:
        raise InputError("no training data", str(TRAINING_DIR), "expected *.jsonl or *.jsonl.gz files")
    examples = []
    for path in paths:
        with _open(path) as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    ex = Example.from_dict(json.loads(line))
                except (json.JSONDecodeError, TypeError) as exc:
                    raise InputError(f"bad training line {n}", str(path), str(exc)) from exc
                unknown = set(ex.labels) - set(LABELS)
                if unknown:
                    raise InputError(f"unknown label on line {n}", str(path),
                                     f"{sorted(unknown)}; labels are {', '.join(LABELS)}")
                examples.append(ex)
    return examples


def training_files() -> list[Path]:
    """annotations/training/*.jsonl and *.jsonl.gz, sorted."""
    return sorted([*TRAINING_DIR.glob("*.jsonl"), *TRAINING_DIR.glob("*.jsonl.gz")])


def _open(path: Path):
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def label_matrix(examples: list[Example], labels=LABELS) -> np.ndarray:
    return np.array([[label in ex.labels for label in labels] for ex in examples], dtype=int)


def split(examples: list[Example]) -> tuple[list[Example], list[Example]]:
    """(train, dev) as recorded in the data."""
    return ([e for e in examples if e.split != "dev"], [e for e in examples if e.split == "dev"])
