"""Queue page: filters, ordering, the next items, and a button into the item view."""
from __future__ import annotations

import streamlit as st

from annotations.decisions import LABELS
from review.queue import ORDERS, VIEWS, Filters, blind, counts, select, table
from review.text import md
from review.ui.common import Ctx, filters, goto, show_problems

ORDER_NAMES = {"uncertainty": "uncertainty (score nearest the threshold first)",
               "dollars": "dollars (largest first)", "vendor": "vendor (A-Z)"}


def current_selection(ctx: Ctx, f: Filters):
    return select(ctx.q, f, ctx.marks, ctx.reviewer, ctx.config.double_review)


def hidden_items(ctx: Ctx) -> set[int]:
    """Items whose status this reviewer must not see (blind second review)."""
    return blind(ctx.q, ctx.marks, ctx.reviewer, ctx.config.double_review)


def _seed(key: str, value, options=None) -> None:
    """Give widget ``key`` the saved value unless it has one that is still an option."""
    have = st.session_state.get(key, None)
    if options is None:
        if key not in st.session_state:
            st.session_state[key] = value
        return
    ok = (lambda v: v in options) if not isinstance(value, list) else \
        (lambda v: isinstance(v, list) and all(x in options for x in v))
    if key not in st.session_state or not ok(have):
        st.session_state[key] = value if ok(value) else (
            [x for x in value if x in options] if isinstance(value, list) else options[0])


def render(ctx: Ctx) -> None:
    st.title("Review queue")
    show_problems(ctx)
    store, old = ctx.q.store, filters()
    reviewers = [""] + ctx.state.reviewers()
    # Keyed widgets, seeded from the saved Filters: an unkeyed widget whose default
    # changes becomes a new widget, and Streamlit dropped every second change to it.
    _seed("f_labels", list(old.labels), LABELS)
    _seed("f_agencies", list(old.agencies), store.agency_names)
    _seed("f_view", old.view, VIEWS)
    _seed("f_vendors", list(old.vendors), store.vendor_names)
    _seed("f_reviewer", old.reviewer, reviewers)
    _seed("f_order", old.order, ORDERS)
    _seed("f_unpredicted", old.unpredicted)
    c1, c2, c3 = st.columns(3)
    labels = c1.multiselect("Label", LABELS, key="f_labels")
    agencies = c2.multiselect("Agency", [a for a in store.agency_names if a], key="f_agencies")
    view = c3.selectbox("Status", VIEWS, key="f_view",
                        help="'to review': unreviewed items, and items drawn for a blind "
                             "second review that you have not answered")
    c4, c5, c6 = st.columns(3)
    vendors = c4.multiselect("Vendor", [v for v in store.vendor_names if v], key="f_vendors")
    reviewer = c5.selectbox("Answered by", reviewers, key="f_reviewer",
                            format_func=lambda r: r or "anyone")
    order = c6.selectbox("Order", ORDERS, key="f_order", format_func=ORDER_NAMES.get)
    unpredicted = st.checkbox("Include labels the model did not predict but scored near the "
                              "threshold (possible missing labels)", key="f_unpredicted")
    f = Filters(labels=tuple(labels), agencies=tuple(agencies), vendors=tuple(vendors),
                view=view, reviewer=reviewer, order=order, unpredicted=unpredicted)
    if f != old:
        st.session_state["filters"] = f
        st.session_state.pop("current", None)   # the next item follows the new filters

    items = current_selection(ctx, f)
    st.caption(f"{len(items):,} items match · {len(store):,} documents loaded from "
               f"{len(store.files)} results file(s)")
    st.button("Start reviewing", type="primary", shortcut="G",
              disabled=not len(items), on_click=goto, args=("item",), key="start")
    hidden = hidden_items(ctx)
    rows = table(ctx.q, items, ctx.marks, limit=200, hidden=hidden)
    if rows:
        picked = st.dataframe(
            rows, hide_index=True, on_select="rerun", selection_mode="single-row",
            key="queue_table",
            column_order=("label", "score", "threshold", "predicted", "status", "vendor",
                          "agency", "amount", "date", "title"),
            column_config={"amount": st.column_config.NumberColumn(format="dollar"),
                           "score": st.column_config.ProgressColumn(min_value=0, max_value=1,
                                                                    format="%.3f")})
        chosen = getattr(getattr(picked, "selection", None), "rows", None) or []
        if chosen:
            row = rows[chosen[0]]
            st.button(f"Open {row['label']} · {md(row['vendor'] or row['title'][:60])}",
                      on_click=goto, args=("item",),
                      kwargs={"current": (row["doc_id"], row["label"])}, key="open_row")
    else:
        st.info("Nothing to review with these filters.")
    with st.expander("Counts by label and status"):
        st.dataframe([{"label": k, **v} for k, v in counts(ctx.q, ctx.marks, hidden).items()],
                     hide_index=True)
