"""Document text as safe HTML: every character escaped, evidence highlighted in place.

Results and PDFs are untrusted: a description may hold ``<script>``, ``<img
onerror=...>`` or Markdown. Everything here goes through ``html.escape`` and the
app hands the result to ``st.html`` (no Markdown pass), so such text shows as the
characters it is. Only the tags built here (``div``, ``mark``, ``span``,
``table``...) are markup.
"""
from __future__ import annotations

import html
import math

from vendors.export import money as _money

STYLE = """<style>
.ss-text{white-space:pre-wrap;font-family:ui-sans-serif,system-ui,sans-serif;line-height:1.5;
 border-left:3px solid #ccc;padding:.25rem .75rem;margin:.25rem 0}
.ss-text mark.ss-passage{background:#fff3bf;padding:0}
.ss-text mark.ss-term{background:#ffd43b;font-weight:600;padding:0}
.ss-text .ss-gap{color:#888}
table.ss-facts td{padding:.1rem .6rem;vertical-align:top}
table.ss-facts td:first-child{color:#666}
</style>"""


def esc(value) -> str:
    """Any value as escaped HTML text (None -> empty)."""
    return html.escape("" if value is None else str(value), quote=True)


_MD_SPECIAL = {c: "\\" + c for c in "\\`*_{}[]()#+-.!|<>~$:=^&\"'"}


def md(value) -> str:
    """Any value as literal text inside Streamlit Markdown (st.success, button labels):
    every ASCII punctuation character that Markdown, LaTeX ($) or Streamlit's
    :color[...] / :emoji: syntax could read is backslash-escaped; newlines become spaces."""
    text = " ".join(("" if value is None else str(value)).split())
    return text.translate(str.maketrans(_MD_SPECIAL))


def money(x) -> str:
    """Dollars as the vendor list writes them ("$1,234.50", "-$5.00"); "" for no amount."""
    return _money(float(x)) if isinstance(x, (int, float)) and not math.isnan(x) else ""


def _clip(spans, n: int) -> list[tuple[int, int]]:
    out = []
    for span in spans or ():
        try:
            s, e = int(span[0]), int(span[1])
        except (TypeError, ValueError, IndexError):
            continue
        s, e = max(0, min(s, n)), max(0, min(e, n))
        if e > s:
            out.append((s, e))
    return out


def highlight(text: str, terms=(), passage=None, window: int | None = None) -> str:
    """``text`` as an HTML block: ``passage`` (start, end) marked, ``terms`` [(start,
    end), ...] marked strongly (overlaps allowed). With ``window``, only the passage
    plus ``window`` characters either side are shown, elided with "…"."""
    text = text or ""
    n = len(text)
    lo, hi = 0, n
    passages = _clip([passage] if passage else [], n)
    if window is not None and passages:
        lo = max(0, passages[0][0] - window)
        hi = min(n, passages[0][1] + window)
        lo = _word_start(text, lo)
        hi = _word_end(text, hi)
    term_spans = _clip(terms, n)
    cuts = {lo, hi}
    for s, e in passages + term_spans:
        cuts.update(x for x in (s, e) if lo <= x <= hi)
    cuts = sorted(cuts)
    runs: list[list] = []           # [class, start, end], neighbours of one class merged
    for a, b in zip(cuts, cuts[1:]):
        kind = "ss-term" if any(s <= a and b <= e for s, e in term_spans) else \
            "ss-passage" if any(s <= a and b <= e for s, e in passages) else ""
        if runs and runs[-1][0] == kind:
            runs[-1][2] = b
        else:
            runs.append([kind, a, b])
    parts = ['<div class="ss-text">']
    if lo > 0:
        parts.append('<span class="ss-gap">… </span>')
    for kind, a, b in runs:
        chunk = esc(text[a:b])
        parts.append(f'<mark class="{kind}">{chunk}</mark>' if kind else chunk)
    if hi < n:
        parts.append('<span class="ss-gap"> …</span>')
    parts.append("</div>")
    return "".join(parts)


def _word_start(text: str, i: int) -> int:
    j = text.rfind(" ", max(0, i - 30), i)
    return j + 1 if j >= 0 else i


def _word_end(text: str, i: int) -> int:
    j = text.find(" ", i, i + 30)
    return j if j >= 0 else i


def evidence_html(ev: dict, page_text: str | None = None, window: int = 400) -> str:
    """One evidence passage highlighted inside its surrounding text.

    Award fields: the field text is the surrounding text, the terms are marked.
    PDF passages: with ``page_text`` (the page the offsets refer to) the passage is
    marked inside the page, otherwise the passage alone is shown with its terms.
    """
    text = str(ev.get("text") or "")
    terms = [(t.get("start"), t.get("end")) for t in ev.get("terms") or [] if isinstance(t, dict)]
    start, end = ev.get("start"), ev.get("end")
    if (page_text is not None and isinstance(start, int) and isinstance(end, int)
            and ev.get("page") is not None and page_text[start:end].split() == text.split()):
        return highlight(page_text, terms, passage=(start, end), window=window)
    if ev.get("page") is not None and isinstance(start, int):
        terms = [(s - start, e - start) for s, e in terms
                 if isinstance(s, int) and isinstance(e, int)]
    return highlight(text, terms)


def facts_table(rows: list[tuple[str, object]]) -> str:
    """A two-column table of (name, value), values escaped; empty values left out."""
    cells = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>"
                    for k, v in rows if v not in (None, "", []))
    return f'<table class="ss-facts">{cells}</table>'
