"""Overview page data (plain DataFrames) and its Altair charts.

The data functions take the queue, its Marks and the log state and return
small DataFrames (items blind to the viewer are left out of the counts and the
top vendors); the chart functions turn one DataFrame into an Altair chart
that the page hands to ``st.altair_chart``.
"""
from __future__ import annotations

from typing import Collection

import altair as alt
import numpy as np
import pandas as pd

from annotations.decisions import LABELS, STATUSES
from review.queue import Marks, Queue

L = len(LABELS)
BINS = np.linspace(0.0, 1.0, 21)


def label_status_counts(q: Queue, m: Marks, hidden: Collection[int] = frozenset()
                        ) -> pd.DataFrame:
    """label, status, items: model-predicted items plus every decided item, less the
    ``hidden`` ones (blind to the viewer: review.queue.blind), as review.queue.counts."""
    pool = q.predicted | (m.status > 0)
    pool[list(hidden)] = False
    labels = np.arange(len(q)) % L
    rows = [{"label": label, "status": s,
             "items": int(np.sum(pool & (labels == k) & (m.status == c)))}
            for k, label in enumerate(LABELS) for c, s in enumerate(STATUSES)]
    return pd.DataFrame(rows, columns=["label", "status", "items"])


def progress(state) -> pd.DataFrame:
    """day, reviewer, decisions, cumulative: label and adjudicate decisions in force."""
    counts: dict[tuple[str, str], int] = {}
    for item in state.items.values():
        for d in item.decisions:
            if d.kind in ("label", "adjudicate") and state.active(d):
                key = (d.time[:10], d.reviewer or "?")
                counts[key] = counts.get(key, 0) + 1
    df = pd.DataFrame([{"day": day, "reviewer": r, "decisions": n}
                       for (day, r), n in sorted(counts.items())],
                      columns=["day", "reviewer", "decisions"])
    df["cumulative"] = df.groupby("reviewer")["decisions"].cumsum() if len(df) else []
    return df


def score_histogram(q: Queue) -> pd.DataFrame:
    """label, low, high, documents: score distribution per label, 20 bins."""
    rows = []
    for k, label in enumerate(LABELS):
        hist, _ = np.histogram(q.store.scores[:, k], bins=BINS)
        rows += [{"label": label, "low": float(lo), "high": float(hi), "documents": int(n),
                  "threshold": q.thresholds[label]}
                 for lo, hi, n in zip(BINS[:-1], BINS[1:], hist)]
    return pd.DataFrame(rows, columns=["label", "low", "high", "documents", "threshold"])


def top_vendors(q: Queue, m: Marks, n: int = 15, hidden: Collection[int] = frozenset()
                ) -> pd.DataFrame:
    """vendor, label, confirmed, dollars, vendor_dollars: the ``n`` vendors with the
    most confirmed items (ties broken by dollars). ``dollars`` is the obligated amount
    of the documents confirmed for that label; ``vendor_dollars`` that of the vendor's
    confirmed documents, each document counted once even when confirmed for two labels
    (the ranking and the dollars chart use it). Items in ``hidden`` (blind to the
    viewer, review.queue.blind) are not counted: their answers stay unseen."""
    store = q.store
    confirmed = [i for i in np.flatnonzero(m.status == STATUSES.index("confirmed"))
                 if int(i) not in hidden]
    agg: dict[tuple[str, str], list] = {}
    docs: dict[str, dict[int, float]] = {}
    for i in confirmed:
        row = int(i) // L
        vendor = store.vendors[row] or "(no vendor)"
        cell = agg.setdefault((vendor, LABELS[int(i) % L]), [0, 0.0])
        amount = store.amount[row]
        dollars = 0.0 if np.isnan(amount) else float(amount)
        cell[0] += 1
        cell[1] += dollars
        docs.setdefault(vendor, {})[row] = dollars
    totals = {v: sum(rows.values()) for v, rows in docs.items()}
    df = pd.DataFrame([{"vendor": v, "label": lab, "confirmed": c, "dollars": d,
                        "vendor_dollars": totals[v]}
                       for (v, lab), (c, d) in agg.items()],
                      columns=["vendor", "label", "confirmed", "dollars", "vendor_dollars"])
    if df.empty:
        return df
    ranked = df.groupby("vendor").agg(confirmed=("confirmed", "sum"),
                                      dollars=("vendor_dollars", "first")) \
        .sort_values(["confirmed", "dollars"], ascending=False, kind="stable")
    keep = list(ranked.index[:n])
    return df[df["vendor"].isin(keep)].reset_index(drop=True)


# ------------------------------------------------------------------ charts

def status_chart(df: pd.DataFrame) -> alt.Chart:
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("label:N", title=None), y=alt.Y("items:Q", title="items"),
        color=alt.Color("status:N", sort=list(STATUSES)),
        xOffset=alt.XOffset("status:N", sort=list(STATUSES)),
        tooltip=["label", "status", "items"]).properties(title="Items by label and status")


def progress_chart(df: pd.DataFrame) -> alt.Chart:
    return alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("day:T", title=None), y=alt.Y("cumulative:Q", title="decisions"),
        color="reviewer:N", tooltip=["day", "reviewer", "decisions", "cumulative"]
    ).properties(title="Review progress (cumulative decisions)")


def histogram_chart(df: pd.DataFrame) -> alt.FacetChart:
    bars = alt.Chart().mark_bar().encode(
        x=alt.X("low:Q", bin="binned", title="score"), x2="high:Q",
        y=alt.Y("documents:Q", scale=alt.Scale(type="symlog"), title="documents (symlog)"),
        tooltip=["low", "high", "documents"])
    rule = alt.Chart().mark_rule(color="red").encode(x="threshold:Q")
    return alt.layer(bars, rule, data=df).facet(column=alt.Column("label:N", title=None)) \
        .properties(title="Scores per label (red: threshold)")


def vendors_chart(df: pd.DataFrame) -> alt.Chart:
    order = df.groupby("vendor")["confirmed"].sum().sort_values(ascending=False).index.tolist() \
        if len(df) else []
    base = alt.Chart(df).encode(y=alt.Y("vendor:N", sort=order, title=None))
    count = base.mark_bar().encode(x=alt.X("confirmed:Q", title="confirmed items"),
                                   color="label:N",
                                   tooltip=["vendor", "label", "confirmed", "dollars"])
    dollars = base.mark_bar().encode(   # one bar per vendor: a document counted once
        x=alt.X("max(vendor_dollars):Q", title="obligated dollars (confirmed documents)"),
        tooltip=["vendor", alt.Tooltip("max(vendor_dollars):Q", format="$,.0f",
                                       title="dollars")])
    return alt.hconcat(count, dollars).properties(
        title="Top vendors by confirmed labels and dollars")
