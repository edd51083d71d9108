"""The Vendors page of the review app: the list, filters, drill-down, vendor decisions.

Layout only: the data comes from ``vendors.rollup`` (cached per results files,
decision-log size/mtime and the viewer's blind items with ``st.cache_resource``,
no pickle). Items the viewer must review blind are rolled up as unreviewed, so no
status, count, dollar sum or evidence gives another reviewer's answer away. Every piece of
document or vendor text reaches the page through ``st.dataframe``/``st.text`` or
through ``review.text.md`` (Markdown-escaped); no unescaped HTML.

Decisions written here (DecisionLog, one line each):
- ``vendor_label`` accept/reject: doc_id = vendor key, label = category;
- ``vendor_merge``: doc_id = first vendor merged, target = the vendor merged into,
  extra {"members": [keys merged]};
- ``vendor_split``: doc_id = vendor key, extra {"names": [spellings split off]};
- ``undo`` of the reviewer's last vendor decision.
Each also records extra {"spellings": {key: [spellings]}} for every vendor key
it names, so the decision finds its vendor again after merges change the key
(vendors/events.py).
"""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from annotations.decisions import Decision, DecisionLog
from extract.errors import ScreenError
from review.store import file_key
from review.text import md, money
from review.ui.common import goto
from review.vendor_decisions import blind_items, decision_rows, review_cell, shown_status
from vendors.events import event_list
from vendors.lines import safe_link
from vendors.rollup import STATUSES, Rollup, documents_of, rollup

FLASH = "vendors_flash"


def _log_key(log: DecisionLog) -> tuple:
    try:
        s = os.stat(log.path)
        return (str(log.path), s.st_mtime_ns, s.st_size)
    except OSError:
        return (str(log.path), 0, -1)


@st.cache_resource(max_entries=4, show_spinner="Rolling up vendors…")
def _rollup(files: tuple, log_key: tuple, hide: frozenset, _log: DecisionLog) -> Rollup:
    """The list; ``hide``: items the viewer reviews blind, rolled up as unreviewed."""
    return rollup([Path(f[0]) for f in files], _log, hide=hide)


@st.cache_resource(max_entries=16, show_spinner="Finding the vendor's documents…")
def _documents(files: tuple, log_key: tuple, vendor_key: str, _roll: Rollup) -> list[dict]:
    return documents_of([Path(f[0]) for f in files], _roll, vendor_key)


def render(results: list[Path], log: DecisionLog, reviewer: str, share: float = 0.0) -> None:
    """The page; ``share`` is the double-review share (blind items stay blind here)."""
    st.title("Vendors")
    paths = [Path(p) for p in results]
    files, log_key = file_key(paths, missing_ok=True), _log_key(log)
    try:
        state = log.state()
        roll = _rollup(files, log_key, blind_items(state, reviewer, share), log)
    except ScreenError as err:
        st.error(md(f"Error: {err.line()}"))
        return
    flash = st.session_state.pop(FLASH, None)
    if flash:
        (st.error if flash[0] == "error" else st.success)(flash[1])
    rows = _filtered(roll)
    st.caption(md(f"{len(rows):,} of {len(roll.rows):,} entries; built from "
                  f"{roll.provenance.lines:,} results lines"))
    st.dataframe(_table(rows), hide_index=True,
                 column_config={"obligated": st.column_config.NumberColumn(format="$%.2f")})
    if not rows:
        st.info("No vendor matches these filters.")
        return
    choices = list(dict.fromkeys(r.vendor_key for r in rows))
    names = {r.vendor_key: r.vendor for r in roll.rows}
    key = st.selectbox("Vendor", choices, format_func=lambda k: names.get(k, k),
                       key="vendors_selected")
    if key:
        _drill_down(roll, files, log_key, log, state, reviewer, key, share)


def _filtered(roll: Rollup) -> list:
    categories = sorted({r.category for r in roll.rows})
    c1, c2, c3, c4 = st.columns([2, 2, 2, 1])
    cats = c1.multiselect("Category", categories, default=categories, key="vendors_cats")
    statuses = c2.multiselect("Status", STATUSES, default=list(STATUSES), key="vendors_status")
    text = c3.text_input("Name contains", key="vendors_text").strip().upper()
    covered = c4.checkbox("ICE, CBP or ORR", key="vendors_covered")
    return [r for r in roll.rows
            if r.category in cats and r.status in statuses
            and (not covered or r.covered_agencies)
            and (not text or any(text in v.upper() for v in [r.vendor, *r.variants]))]


def _table(rows: list) -> list[dict]:
    return [{"vendor": r.vendor, "parent": r.parent or "", "category": r.category,
             "status": r.status, "agencies": r.agencies, "obligated": r.obligated,
             "first_date": r.first_date or "", "last_date": r.last_date or "",
             "documents": r.documents, "best_score": r.best_score, "key": r.vendor_key}
            for r in rows]


def _drill_down(roll: Rollup, files: tuple, log_key: tuple, log: DecisionLog, state,
                reviewer: str, key: str, share: float) -> None:
    rows = [r for r in roll.rows if r.vendor_key == key]
    head = rows[0]
    st.subheader(md(head.vendor))
    st.text(f"Key {key}" + (f" · parent {head.parent}" if head.parent else ""))
    if len(head.variants) > 1:
        st.text("Spellings: " + "; ".join(head.variants))
    for row in rows:
        with st.container(border=True):
            st.markdown(f"**{md(row.category)}**: {md(row.status)} · {md(row.agencies)} · "
                        f"{md(money(row.obligated))} on {row.documents} documents · "
                        f"reviewers confirmed {row.confirmed}, rejected {row.rejected}")
            for e in row.evidence:
                url = safe_link(e.link)
                link = f" ([record]({url}))" if url else ""
                seen = shown_status(state, e.doc_id, row.category, reviewer, share, e.review)
                st.markdown(f"> {md(e.text)}  \n> — {md(e.where())}, {md(seen)}{link}")
            note = f"vendors_note_{key}_{row.category}"     # read in the callback, when clicked
            st.text_input("Note", key=note)
            a, b = st.columns(2)
            a.button(f"Confirm {md(row.category)} vendor", key=f"vendors_ok_{key}_{row.category}",
                     on_click=_decide, args=(log, reviewer, row, "accept", note, roll),
                     disabled=row.vendor_decision == "accept")
            b.button(f"Reject {md(row.category)} vendor", key=f"vendors_no_{key}_{row.category}",
                     on_click=_decide, args=(log, reviewer, row, "reject", note, roll),
                     disabled=row.vendor_decision == "reject")
    st.markdown("#### Documents")
    try:
        docs = _documents(files, log_key, key, roll)
    except ScreenError as err:
        st.error(md(f"Error: {err.line()}"))
        docs = []
    table = [{"doc_id": d["doc_id"], "labels": ", ".join(d["labels"]),
              "review": review_cell(state, d["doc_id"], d["labels"], reviewer, share),
              "score": max(d["scores"].values(), default=0.0), "amount": d["amount"],
              "action_date": d["action_date"] or "", "agency": d["agency"] or "",
              "title": d["title"], "where": f"{Path(d['path'] or '').name} "
                                            f"{d['record'] if d['record'] is not None else ''}",
              "link": safe_link(d["link"])} for d in docs]
    st.dataframe(table, hide_index=True,
                 column_config={"link": st.column_config.LinkColumn()})
    labelled = [(d["doc_id"], label) for d in docs for label in d["labels"]]
    if labelled:
        pick = st.selectbox("Open a document in the review", labelled,
                            format_func=lambda x: f"{x[0]} ({x[1]})", key=f"vendors_open_{key}")
        st.button("Open", on_click=goto, args=("item",), kwargs={"current": tuple(pick)},
                  key=f"vendors_open_btn_{key}")
    st.markdown("#### Decisions")
    doc_ids = {d["doc_id"] for d in docs}
    decisions = [d for item in state.items.values() if item.doc_id in doc_ids
                 for d in item.decisions]
    decisions += [d for d in state.vendor_events
                  if roll.events.get(d.id) == key or d.doc_id == key or d.target == key
                  or key in (event_list(d, "members") or ())]
    shown, hidden = decision_rows(state, decisions, reviewer, share)
    st.dataframe(shown, hide_index=True)
    if hidden:
        st.caption(f"{hidden} decision(s) of other reviewers not shown: those items are "
                   "waiting for your blind second review.")
    _merge_split(roll, log, reviewer, key, head.variants)


def _merge_split(roll: Rollup, log: DecisionLog, reviewer: str, key: str,
                 variants: list[str]) -> None:
    st.markdown("#### Same company?")
    others = [k for k in roll.names if k != key]
    merge = st.multiselect("Merge these vendors into this one", others,
                           format_func=lambda k: roll.names.get(k, k), key=f"vendors_merge_{key}")
    st.button("Merge", key=f"vendors_merge_btn_{key}", disabled=not merge,
              on_click=_merge, args=(log, reviewer, key, merge, roll))
    if len(variants) > 1:
        split = st.multiselect("Split these spellings off into a vendor of their own", variants,
                               key=f"vendors_split_{key}")
        st.button("Split", key=f"vendors_split_btn_{key}",
                  disabled=not split or len(split) == len(variants),
                  on_click=_split, args=(log, reviewer, key, split, roll))
    mine = [d for d in log.state().vendor_events if d.reviewer == reviewer]
    if mine:
        st.button(f"Undo my last vendor decision ({mine[-1].kind})", key="vendors_undo",
                  on_click=_undo, args=(log, reviewer, mine[-1]))


# ------------------------------------------------------------------ callbacks

def _save(log: DecisionLog, decision: Decision, what: str) -> None:
    try:
        d = log.append(decision)
    except (ScreenError, OSError) as err:
        st.session_state[FLASH] = ("error", md(f"Not saved: {err}"))
        return
    st.session_state[FLASH] = ("ok", md(f"Saved ({d.time}): {what}"))


def _spellings(roll: Rollup, *keys: str) -> dict:
    """extra["spellings"]: how the decision finds its vendors again after a merge."""
    return {"spellings": {k: list(roll.spellings.get(k, ())) for k in dict.fromkeys(keys)}}


def _decide(log, reviewer, row, answer: str, note_key: str, roll: Rollup) -> None:
    note = str(st.session_state.get(note_key) or "").strip()
    _save(log, Decision(doc_id=row.vendor_key, label=row.category, answer=answer,
                        reviewer=reviewer, kind="vendor_label", note=note,
                        evidence=[e.to_dict() for e in row.evidence],
                        score=row.best_score, extra=_spellings(roll, row.vendor_key)),
          f"{answer} {row.vendor} as a {row.category} vendor")


def _merge(log, reviewer, key: str, members: list[str], roll: Rollup) -> None:
    _save(log, Decision(doc_id=members[0], label="", reviewer=reviewer, kind="vendor_merge",
                        target=key, extra={"members": list(members),
                                           **_spellings(roll, key, *members)}),
          f"merged {len(members)} vendor(s) into {key}")


def _split(log, reviewer, key: str, names: list[str], roll: Rollup) -> None:
    _save(log, Decision(doc_id=key, label="", reviewer=reviewer, kind="vendor_split",
                        extra={"names": list(names), **_spellings(roll, key)}),
          f"split {len(names)} spelling(s) off {key}")


def _undo(log, reviewer, target: Decision) -> None:
    _save(log, Decision(doc_id=target.doc_id, label=target.label, reviewer=reviewer,
                        kind="undo", target=target.id), f"undid your {target.kind}")
