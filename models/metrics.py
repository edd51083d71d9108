"""Per-label metrics on plain arrays (no model needed)."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score


def label_metrics(y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None = None
                  ) -> dict:
    """Precision, recall, F1, support, confusion (and AP when scores are given)."""
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    out = {
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
        "support": int(y_true.sum()),
        "confusion": {"tp": int(((y_true == 1) & (y_pred == 1)).sum()),
                      "fp": int(((y_true == 0) & (y_pred == 1)).sum()),
                      "fn": int(((y_true == 1) & (y_pred == 0)).sum()),
                      "tn": int(((y_true == 0) & (y_pred == 0)).sum())},
    }
    if scores is not None and y_true.any():
        out["average_precision"] = float(average_precision_score(y_true, scores))
    return out


def best_threshold(y_true: np.ndarray, scores: np.ndarray, min_precision: float = 0.85
                   ) -> float:
    """Threshold with the best F1 among those keeping precision >= min_precision.

    Falls back to the best-F1 threshold when no threshold reaches the precision.
    Ties go to the lower threshold (recall matters more for a screening list).
    """
    y_true = np.asarray(y_true, dtype=int)
    candidates = np.unique(np.round(scores, 6))
    best, best_any = (-1.0, 0.5), (-1.0, 0.5)
    for t in candidates:
        pred = scores >= t
        tp = int((pred & (y_true == 1)).sum())
        if tp == 0:
            continue
        p = tp / int(pred.sum())
        r = tp / max(int(y_true.sum()), 1)
        f = 2 * p * r / (p + r)
        if f > best_any[0]:
            best_any = (f, float(t))
        if p >= min_precision and f > best[0]:
            best = (f, float(t))
    return best[1] if best[0] >= 0 else best_any[1]
