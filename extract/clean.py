"""Noise in award descriptions: find it, drop it for the model, keep the original.

Federal award descriptions carry bookkeeping that says nothing about the
service: ``IGF::OT::IGF`` flags, AMB/ITSR requisition numbers, contracting
officers' e-mail addresses, phone numbers and names after "COR:". The model
reads ``clean_text(text)``; evidence offsets always refer to the original text.
"""
from __future__ import annotations

import re

NOISE = re.compile(
    r"""
      IGF\s*::\s*[A-Z]{2}\s*::\s*IGF                          # inherently-governmental flag
    | \b(?:AMB|ITSR)\s*[#:\-]?\s*\d[\w\-]*                    # requisition numbers
    | [\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+                         # e-mail addresses
    | (?<!\d)(?:\(\d{3}\)\s*|\d{3}[\-.\s])\d{3}[\-.\s]\d{4}(?!\d)  # phone numbers
    | \b(?:A?COR|POC|CONTACT)\s*[:\-]\s*                     # "COR: FIRST LAST"
      [A-Z][A-Za-z.'\-]+(?:\s+[A-Z]\.)?\s+[A-Z][A-Za-z'\-]+
    """,
    re.VERBOSE,
)
_SPACE = re.compile(r"\s+")


def noise_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of bookkeeping noise in ``text``."""
    return [m.span() for m in NOISE.finditer(text)]


def clean_text(text: str) -> str:
    """``text`` without noise, whitespace folded; what the model reads."""
    return _SPACE.sub(" ", NOISE.sub(" ", text)).strip()


def redact(text: str) -> str:
    """``text`` with e-mail addresses, phones and names after "COR:" masked.

    Used where record text is copied into the project's own files (training
    data, fixtures) so that officials' contact details are not republished.
    """
    return NOISE.sub(lambda m: m.group(0) if m.group(0).startswith("IGF") else "[…]", text)
