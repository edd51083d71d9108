"""Train the classifier from annotations/, choose thresholds, save it with its card
and its compiled scorer (``models.compiled``).

``train()`` fits on the training split, calibrates, picks one threshold per
label on the development split, measures the development metrics, then refits
on all labelled data with the same settings and thresholds and saves that
model. Everything is seeded and sorted, so the same data gives the same model
and the same ``model_version``.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import platform
import time
from pathlib import Path

import numpy as np
import sklearn

from . import compiled, store
from .classifier import FEATURES, LABELS, as_matrix, build_pipeline
from .concepts import CONCEPTS, ConceptCounts
from .data import Example, label_matrix, load_examples, split
from .metrics import best_threshold, label_metrics
from .scorer import state_from_pipeline

DEFAULT_C = 32.0
SEED = 0


def data_fingerprint(examples: list[Example]) -> str:
    h = hashlib.sha256()
    for ex in examples:
        h.update(json.dumps([ex.id, ex.triple, sorted(ex.labels), ex.split]).encode())
    return h.hexdigest()


def model_version(fingerprint: str, C: float, seed: int) -> str:
    """Changes when the data, the settings or the feature definitions change."""
    recipe = json.dumps([fingerprint, C, seed, FEATURES, CONCEPTS,
                         inspect.getsource(ConceptCounts),
                         build_pipeline(C, seed).get_params(deep=False)["steps"][1][1].get_params()],
                        sort_keys=True, default=str)
    return f"sanctuary-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def fit(examples: list[Example], C: float = DEFAULT_C, seed: int = SEED):
    pipeline = build_pipeline(C=C, random_state=seed)
    pipeline.fit(as_matrix(ex.triple for ex in examples), label_matrix(examples))
    return pipeline


def train(examples: list[Example] | None = None, model_path: Path = store.DEFAULT_MODEL,
          C: float = DEFAULT_C, seed: int = SEED, min_precision: float = 0.85) -> dict:
    """Train, save the model and its card; return the card (a dict)."""
    started = time.perf_counter()
    if examples is None:
        examples = load_examples()
    train_set, dev_set = split(examples)
    dev_model = fit(train_set, C, seed)
    dev_scores = dev_model.predict_proba(as_matrix(ex.triple for ex in dev_set))
    y_dev = label_matrix(dev_set)
    thresholds = [best_threshold(y_dev[:, k], dev_scores[:, k], min_precision)
                  for k in range(len(LABELS))]
    dev_metrics = {
        label: label_metrics(y_dev[:, k], dev_scores[:, k] >= thresholds[k], dev_scores[:, k])
        for k, label in enumerate(LABELS)
    }
    model = fit(examples, C, seed)
    fingerprint = data_fingerprint(examples)
    version = model_version(fingerprint, C, seed)
    clf = model.named_steps["clf"]
    clf.thresholds_ = np.array(thresholds)
    clf.labels_ = np.array(LABELS)
    clf.version_ = version
    sha = store.save(model, model_path)
    compiled.write(state_from_pipeline(model), compiled.artifact_path(model_path), sha)
    y_all = label_matrix(examples)
    card = {
        "model_version": version,
        "file": Path(model_path).name,
        "sha256": sha,
        "labels": list(LABELS),
        "thresholds": {label: round(t, 6) for label, t in zip(LABELS, thresholds)},
        "model": "TF-IDF word 1-2 grams per field (text, PSC, NAICS), char_wb 3-5 grams of the text and counts of the "
                 "services (and the exclusions) that LABELING.md and DECISIONS.md name + logistic regression "
                 "per label, Platt-calibrated on 5-fold out-of-fold scores",
        "params": {"C": C, "seed": seed, "threshold_rule":
                   f"best F1 on the development split with precision >= {min_precision}"},
        "data": {
            "examples": len(examples),
            "train": len(train_set),
            "dev": len(dev_set),
            "positives": {label: int(y_all[:, k].sum()) for k, label in enumerate(LABELS)},
            "negatives": int((y_all.sum(axis=1) == 0).sum()),
            "fingerprint": fingerprint,
        },
        "dev_metrics": dev_metrics,
        "macro_f1_dev": float(np.mean([m["f1"] for m in dev_metrics.values()])),
        "trained_with": {"python": platform.python_version(), "scikit-learn": sklearn.__version__},
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    store.card_path(model_path).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n",
                                           encoding="utf-8")
    Path(model_path).with_suffix(".card.md").write_text(render_card(card), encoding="utf-8")
    return card


def render_card(card: dict) -> str:
    """The model card as Markdown for people."""
    rows = "\n".join(
        f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
        f"{m.get('average_precision', float('nan')):.3f} | {m['support']} | "
        f"{card['thresholds'][label]:.3f} |"
        for label, m in card["dev_metrics"].items())
    data = card["data"]
    return f"""# Model card: {card['model_version']}

- File: `{card['file']}` (sha256 `{card['sha256'][:16]}…`), saved with skops.
- Model: {card['model']}.
- Thresholds: {card['params']['threshold_rule']}.
- Data: {data['examples']} labelled passages from the training pool (annotations/training/),
  {data['train']} train / {data['dev']} development, split by award so that no award is on both
  sides. Positives: {', '.join(f'{k} {v}' for k, v in data['positives'].items())}; negatives
  {data['negatives']}. Labels follow ../shared/LABELING.md; how each example was labelled is in its
  `annotator` and `method` fields.
- Evaluation pool files (FY2024-FY2026 API exports, FY13-FY18 archive) were never used.

## Development split (model trained on the training split only)
| label | precision | recall | F1 | AP | support | threshold |
|---|---|---|---|---|---|---|
{rows}

Macro-F1: {card['macro_f1_dev']:.3f}. Thresholds were chosen on this split, so its F1 is slightly
optimistic; average precision (AP) does not depend on them.

## Limits
- A record is labelled only from its own text: a modification that names no service gets no label
  even when the vendor is known for one (the vendor rollup carries vendor-level categories).
- Trained on federal award text; PDF passages are a small share of the data.
- Thresholds rest on few development positives (see support): compare `sanctuary-screen evaluate
  --cv 5`, whose out-of-fold precision at these thresholds is the steadier estimate.
"""
