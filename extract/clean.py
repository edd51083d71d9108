"""Noise in award descriptions: find it, drop it for the model, keep the original.

Federal award descriptions carry bookkeeping that says nothing about the
service: ``IGF::OT::IGF`` flags, AMB/ITSR requisition numbers, contracting
officers' e-mail addresses, phone numbers and names after "COR:". The model
reads ``clean_text(text)``; evidence offsets always refer to the original text.
"""
from __future__ import annotations

import re

_IGF = r"IGF\s*::\s*[A-Z]{2}\s*::\s*IGF"                          # inherently-governmental flag
_REQUISITION = r"\b(?:AMB|ITSR)\s*[#:\-]?\s*\d[\w\-]*"              # requisition numbers
_EMAIL = r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+"                         # e-mail addresses
_PHONE = r"(?<!\d)(?:\(\d{3}\)\s*|\d{3}[\-.\s])\d{3}[\-.\s]\d{4}(?!\d)"  # phone numbers
_CONTACT = (r"\b(?:A?COR|POC|CONTACT)\s*[:\-]\s*"                  # "COR: FIRST LAST"
            r"[A-Z][A-Za-z.'\-]+(?:\s+[A-Z]\.)?\s+[A-Z][A-Za-z'\-]+")
NOISE = re.compile("|".join((_IGF, _REQUISITION, _EMAIL, _PHONE, _CONTACT)))
# The same without the e-mail branch, for text with no "@": that branch cannot
# match there, and trying it at every word start is most of NOISE's cost. The
# lookahead holds every first character the other branches can start with, so
# positions that cannot start a match are passed over at once.
_NOISE_NO_EMAIL = re.compile(r"(?=[IA(\dCP])(?:"
                             + "|".join((_IGF, _REQUISITION, _PHONE, _CONTACT)) + ")")
# Every branch needs one of these; text with none of them has no noise.
_MAYBE_NOISE = re.compile(r"\d|@|IGF|COR|POC|CONTACT")


def noise_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of bookkeeping noise in ``text``."""
    return [m.span() for m in NOISE.finditer(text)]


def clean_text(text: str) -> str:
    """``text`` without noise, whitespace folded; what the model reads."""
    if _MAYBE_NOISE.search(text) is not None:
        text = (NOISE if "@" in text else _NOISE_NO_EMAIL).sub(" ", text)
    return " ".join(text.split())  # str.split's whitespace is the \s of a str pattern


def redact(text: str) -> str:
    """``text`` with e-mail addresses, phones and names after "COR:" masked.

    Used where record text is copied into the project's own files (training
    data, fixtures) so that officials' contact details are not republished.
    """
    return NOISE.sub(lambda m: m.group(0) if m.group(0).startswith("IGF") else "[…]", text)
