"""Agreement page: Cohen's kappa and percent agreement per label and reviewer pair,
and the disputed queue, where an adjudicator's decision settles an item (never one of
the item's own reviewers)."""
from __future__ import annotations

import streamlit as st

from annotations.agreement import agreement, disputed, may_adjudicate
from extract.errors import ScreenError
from review.decide import adjudicate
from review.text import esc, evidence_html, md
from review.ui.common import Ctx, goto, show_flash, show_problems


def on_adjudicate(ctx: Ctx, doc_id: str, label: str, answer: str) -> None:
    try:
        d = adjudicate(ctx.log, ctx.q.store, doc_id, label, answer, ctx.reviewer,
                       st.session_state.get(f"adj_note_{doc_id}_{label}", ""))
    except (ScreenError, OSError) as err:
        st.session_state["flash_error"] = md(f"Not saved: {err}")
        return
    st.session_state["flash"] = (f"Saved ({d.time}): {md(d.reviewer)} settled {label} on "
                                 f"{md(doc_id)} as {answer}")


def render(ctx: Ctx) -> None:
    st.title("Agreement")
    show_problems(ctx)
    show_flash()
    share = ctx.config.double_review
    st.caption(f"Double review: {share:.0%} of items go to a second reviewer, blind "
               "(start the app with --double-review SHARE to change it).")
    rows = [p.to_dict() for p in agreement(ctx.state)]
    if rows:
        st.subheader("Per label and pair of reviewers")
        st.dataframe(rows, hide_index=True)
    else:
        st.info("No item has answers from two reviewers yet.")
    items = disputed(ctx.state)
    st.subheader(f"Disputed items ({len(items)})")
    if not items:
        st.caption("Nothing disputed.")
    store = ctx.q.store
    for item in items[:50]:
        row = store.index.get(item.doc_id)
        name = (store.vendors[row] or store.titles[row]) if row is not None else item.doc_id
        with st.container(border=True):
            answers = " · ".join(f"{r or '?'}: {a}" for r, a in item.answers.items())
            st.html(f"<b>{esc(item.label)}</b> · {esc(name)}<br><small>{esc(answers)}</small>")
            notes = [d.note for d in item.decisions if d.note]
            if notes:
                st.html("<small>notes: " + esc(" | ".join(notes)) + "</small>")
            if row is not None:
                try:
                    line = store.line(row)
                except ScreenError as err:
                    st.warning(md(f"Evidence unavailable: {err.line()}"))
                    line = {}
                for lab in line.get("labels") or []:
                    if isinstance(lab, dict) and lab.get("label") == item.label:
                        for ev in (lab.get("evidence") or [])[:2]:
                            st.html(evidence_html(ev))
            key = f"{item.doc_id}_{item.label}"
            own = not may_adjudicate(item, ctx.reviewer)
            if own:
                st.caption("You answered this item, so another reviewer settles it.")
            st.text_input("Adjudicator's note", key=f"adj_note_{key}", disabled=own)
            c1, c2, c3 = st.columns(3)
            c1.button("Settle: confirm", key=f"adj_a_{key}", on_click=on_adjudicate,
                      args=(ctx, item.doc_id, item.label, "accept"), type="primary",
                      disabled=own)
            c2.button("Settle: reject", key=f"adj_r_{key}", on_click=on_adjudicate,
                      args=(ctx, item.doc_id, item.label, "reject"), disabled=own)
            if row is not None:
                c3.button("Open item", key=f"adj_o_{key}", on_click=goto, args=("item",),
                          kwargs={"current": (item.doc_id, item.label)})
