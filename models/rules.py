"""The keyword-rule baseline that the trained model must beat.

This is what an analyst would do with a spreadsheet filter: a few phrases per
label, case-insensitive, matched anywhere in the record. ``evaluate`` scores it
on the same development split as the model and prints both side by side.
"""
from __future__ import annotations

import re

from .classifier import LABELS

KEYWORDS = {
    "data_broker": r"license plate|\blpr\b|\balpr\b|accurint|lexisnexis|\bclear\b|\btlo\b|"
                   r"public records|data broker|investigative data|commercial data",
    "extreme_vetting": r"analytic|palantir|falcon|case management|targeting|vetting|screening|"
                       r"biometric|facial recognition|fingerprint|social media|risk assessment|"
                       r"link analysis",
    "detention": r"detention|detainee|\bigsa\b|bed space|processing (?:center|facility)|"
                 r"soft.sided|removal flight|charter|transport of|alternatives to detention|"
                 r"\batd\b|\bisap\b",
}
_COMPILED = {label: re.compile(pattern, re.IGNORECASE) for label, pattern in KEYWORDS.items()}


def keyword_labels(text: str) -> list[str]:
    """Labels whose keywords occur in ``text``, in LABELS order."""
    return [label for label in LABELS if _COMPILED[label].search(text)]
