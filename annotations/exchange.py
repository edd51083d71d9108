"""Decisions out and in: Prodigy-style JSONL, and training data for ``sanctuary-screen train``.

This module gathers the exchange formats' public names where callers import them:

- annotations/prodigy.py: ``export_prodigy``, ``import_prodigy``, ``prodigy_task``;
- annotations/training_export.py: ``export_training``, ``training_examples``;
- annotations/documents.py: ``iter_results``, ``load_index``, ``document_text`` …;
- annotations/exchange_report.py: ``ExchangeReport`` (what an export or import did).
"""
from __future__ import annotations

from .documents import (as_index, award_fields, document_text, iter_results,
                        load_index, passages)
from .exchange_report import ExchangeReport, write_lines
from .prodigy import export_prodigy, import_prodigy, prodigy_task
from .training_export import (METHOD, TRAINING_OUT, export_training,
                              training_examples)

__all__ = ["ExchangeReport", "METHOD", "TRAINING_OUT", "as_index", "award_fields",
           "document_text", "export_prodigy", "export_training", "import_prodigy",
           "iter_results", "load_index", "passages", "prodigy_task", "training_examples",
           "write_lines"]
