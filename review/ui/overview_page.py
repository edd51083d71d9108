"""Overview page: counts, progress, score histograms, top vendors (Altair charts)."""
from __future__ import annotations

import streamlit as st

from annotations.decisions import STATUSES
from review.queue import blind
from review.ui.common import Ctx, show_problems


def render(ctx: Ctx) -> None:
    from review import overview     # Altair: loaded when the page is first drawn, not at start

    st.title("Overview")
    show_problems(ctx)
    hidden = blind(ctx.q, ctx.marks, ctx.reviewer, ctx.config.double_review)
    counts = overview.label_status_counts(ctx.q, ctx.marks, hidden)
    cols = st.columns(len(STATUSES))
    for col, status in zip(cols, STATUSES):
        col.metric(status, f"{int(counts[counts.status == status]['items'].sum()):,}")
    st.altair_chart(overview.status_chart(counts), width="stretch")
    prog = overview.progress(ctx.state)
    if len(prog):
        st.altair_chart(overview.progress_chart(prog), width="stretch")
    else:
        st.info("No decisions yet: progress appears here after the first one.")
    st.altair_chart(overview.histogram_chart(overview.score_histogram(ctx.q)))
    vendors = overview.top_vendors(ctx.q, ctx.marks, hidden=hidden)
    if len(vendors):
        st.altair_chart(overview.vendors_chart(vendors), width="stretch")
    else:
        st.info("No confirmed labels yet: top vendors appear here once items are confirmed.")
