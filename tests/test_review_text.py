"""review.text: all document text escaped; evidence highlighted in place."""
from __future__ import annotations

import json
import re

from review.text import esc, evidence_html, facts_table, highlight, md
from tests.conftest import FIXTURES

EVIL = ('<script>alert("x")</script> <img src=x onerror=alert(1)> **bold** '
        '[link](javascript:alert(1)) # heading')


def test_hostile_text_is_escaped():
    out = highlight(EVIL, terms=[(8, 13)])
    assert "<script" not in out and "<img" not in out
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in out.replace(
        '<mark class="ss-term">alert</mark>', "alert")
    assert "&lt;img src=x onerror=alert(1)&gt;" in out
    assert "**bold**" in out          # shown as typed; st.html does no Markdown pass
    assert out.count("<mark") == 1


def test_terms_and_passage_are_marked_inside_the_text():
    text = "The contractor shall provide detention services at the facility."
    out = highlight(text, terms=[(29, 38), (29, 47)], passage=(4, 65))
    assert out == ('<div class="ss-text">The <mark class="ss-passage">contractor shall provide '
                   '</mark><mark class="ss-term">detention services</mark><mark '
                   'class="ss-passage"> at the facility.</mark></div>')


def test_window_elides_far_text_and_clips_bad_offsets():
    text = "x " * 500 + "DETENTION BEDS" + " y" * 500
    start = text.index("DETENTION")
    out = highlight(text, terms=[(start, start + 9), (-5, 3), (5000, 6000), ("a", None)],
                    passage=(start, start + 14), window=20)
    assert out.count("…") == 2 and "DETENTION" in out and len(out) < 300
    assert "<mark class=\"ss-term\">x</mark>" not in out   # clipped span outside the window


def test_award_evidence_highlights_its_terms_in_the_field_text():
    line = json.loads((FIXTURES / "review_results.jsonl").read_text().splitlines()[10])
    ev = next(lab["evidence"][0] for lab in line["labels"])
    out = evidence_html(ev)
    marked = re.findall(r'<mark class="ss-term">(.*?)</mark>', out)
    assert ev["terms"] and marked
    for t in ev["terms"]:
        assert any(esc(ev["text"][t["start"]:t["end"]]) in m for m in marked)
    assert re.sub(r"<[^>]+>", "", out) == esc(ev["text"])


def test_pdf_evidence_inside_its_page_text():
    page = ("Header line.\n" + "Intro words. " * 10 + "ICE buys LPR data from a vendor."
            + " Tail." * 5)
    start = page.index("ICE buys")
    ev = {"text": "ICE buys LPR data from a vendor.", "page": 2, "start": start,
          "end": start + 32, "terms": [{"term": "lpr data", "start": start + 9,
                                        "end": start + 17}]}
    with_page = evidence_html(ev, page)
    assert '<mark class="ss-passage">ICE buys </mark><mark class="ss-term">LPR data</mark>' \
        in with_page
    assert "Intro words." in with_page
    alone = evidence_html(ev)          # no page text: the passage alone, terms shifted
    assert alone == ('<div class="ss-text">ICE buys <mark class="ss-term">LPR data</mark>'
                     ' from a vendor.</div>')
    assert evidence_html(ev, "different page text entirely") == alone


def test_markdown_is_neutralised_for_streamlit_markdown_elements():
    out = md("![x](http://e/t.png) **b** $x$ :red[hi] <b>\nnext")
    assert out == r"\!\[x\]\(http\://e/t\.png\) \*\*b\*\* \$x\$ \:red\[hi\] \<b\> next"


def test_facts_table_escapes_values_and_drops_empty_ones():
    out = facts_table([("vendor", "<img src=x onerror=alert(1)>"), ("parent", None),
                       ("amount", "$1.00")])
    assert "<img" not in out and "&lt;img" in out and "parent" not in out
