"""Measure the model and the keyword baseline on the development split, side by side.

The shipped model is trained on all labelled data, so scoring it on the
development split would be scoring it on its own training data. ``evaluate``
therefore refits the same pipeline (same parameters and seed, read from the
model card) on the training split only, applies the shipped thresholds, and
scores the development split; or, with ``cv=K``, scores every example out of
fold with grouped K-fold. A labelled file from elsewhere can be scored with
the shipped model directly (``examples=..., refit=False``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import precision_recall_curve
from sklearn.model_selection import GroupKFold

from . import store
from .classifier import LABELS, as_matrix
from .data import Example, label_matrix, load_examples, split
from .metrics import label_metrics
from .rules import keyword_labels
from .train import SEED, fit


def evaluate(examples: list[Example] | None = None, model_path: Path = store.DEFAULT_MODEL,
             refit: bool = True, worst: int = 10, cv: int | None = None) -> dict:
    """Metrics of the model and the keyword baseline.

    Default: refit on the training split, score the development split.
    ``cv=K``: grouped K-fold over all labelled data instead (every example is
    scored by a model that never saw its group): a steadier estimate, since
    the development split holds few positives of the rarer labels.
    ``refit=False``: score the saved model on ``examples`` as they are.
    """
    card = store.read_card(model_path)
    thresholds = np.array([card["thresholds"][label] for label in LABELS])
    if examples is None:
        examples = load_examples()
    C, seed = card["params"]["C"], card["params"].get("seed", SEED)
    if cv:
        test_set = examples
        scores = _out_of_fold(examples, C, seed, cv)
    else:
        if refit:
            train_set, test_set = split(examples)
            model = fit(train_set, C, seed)
        else:
            test_set, model = examples, store.load(model_path)
        scores = model.predict_proba(as_matrix(ex.triple for ex in test_set))
    y = label_matrix(test_set)
    predicted = scores >= thresholds
    rule_pred = np.array([[label in keyword_labels(" | ".join(ex.triple)) for label in LABELS]
                          for ex in test_set], dtype=int)
    result = {"model_version": card["model_version"], "examples": len(test_set),
              "scheme": f"grouped {cv}-fold cross-validation over all labelled data" if cv
              else "development split, model refit on the training split" if refit
              else "saved model on the given data",
              "labels": {}, "worst_errors": {}}
    for k, label in enumerate(LABELS):
        result["labels"][label] = {
            "model": label_metrics(y[:, k], predicted[:, k], scores[:, k]),
            "keywords": label_metrics(y[:, k], rule_pred[:, k]),
            "threshold": float(thresholds[k]),
            "recall_at_precision_0.85": recall_at_precision(y[:, k], scores[:, k], 0.85),
        }
        result["worst_errors"][label] = _worst(test_set, y[:, k], scores[:, k], thresholds[k],
                                               worst)
    for name in ("model", "keywords"):
        result[f"macro_f1_{name}"] = float(np.mean(
            [m[name]["f1"] for m in result["labels"].values()]))
    return result


def _out_of_fold(examples: list[Example], C: float, seed: int, k: int) -> np.ndarray:
    scores = np.zeros((len(examples), len(LABELS)))
    groups = [ex.group for ex in examples]
    for train_idx, test_idx in GroupKFold(k).split(examples, groups=groups):
        model = fit([examples[i] for i in train_idx], C, seed)
        scores[test_idx] = model.predict_proba(as_matrix(examples[i].triple for i in test_idx))
    return scores


def recall_at_precision(y, scores, precision: float) -> float:
    """The best recall of any threshold whose precision reaches ``precision``."""
    if not np.asarray(y).any():
        return 0.0
    p, r, _ = precision_recall_curve(y, scores)
    return float(max((rr for pp, rr in zip(p, r) if pp >= precision), default=0.0))


def _worst(examples, y, scores, threshold, n) -> list[dict]:
    """The most confident mistakes: missed positives first, then false alarms."""
    missed = [i for i in np.argsort(scores, kind="stable") if y[i] == 1 and scores[i] < threshold]
    false = [i for i in np.argsort(-scores, kind="stable") if y[i] == 0 and scores[i] >= threshold]
    out = []
    for kind, idx in (("missed", missed[:n]), ("false_alarm", false[:n])):
        for i in idx:
            ex = examples[i]
            out.append({"kind": kind, "score": round(float(scores[i]), 4), "id": ex.id,
                        "text": " | ".join(t for t in ex.triple if t), "note": ex.note})
    return out


def render(result: dict) -> str:
    """A plain-text report: the two systems side by side, then the worst errors."""
    lines = [f"{result['scheme']}: {result['examples']} passages "
             f"(model {result['model_version']}; thresholds from its card)", "",
             f"{'label':<16} {'system':<9} {'prec':>6} {'recall':>6} {'F1':>6} {'AP':>6} "
             f"{'TP':>5} {'FP':>5} {'FN':>5}  R@P.85"]
    for label, m in result["labels"].items():
        for name in ("model", "keywords"):
            r = m[name]
            c = r["confusion"]
            ap = f"{r['average_precision']:.3f}" if "average_precision" in r else "-"
            at = f"  {m['recall_at_precision_0.85']:.3f}" if name == "model" else ""
            lines.append(f"{label:<16} {name:<9} {r['precision']:6.3f} {r['recall']:6.3f} "
                         f"{r['f1']:6.3f} {ap:>6} {c['tp']:5d} {c['fp']:5d} {c['fn']:5d}{at}")
    lines += ["", f"macro-F1: model {result['macro_f1_model']:.3f}, "
                  f"keywords {result['macro_f1_keywords']:.3f}"]
    for label, errors in result["worst_errors"].items():
        if errors:
            lines += ["", f"Worst errors for {label}:"]
            lines += [f"  {e['kind']:<11} {e['score']:.3f}  {e['text'][:110]}" for e in errors]
    return "\n".join(lines)
