"""Item view: one (document, label) with its facts, scores and evidence; one-key decisions.

Keys (st.button shortcuts): A confirm, X reject, M add the chosen missing label,
N write a note, S skip, Z undo. A decision is reported "saved" only after
DecisionLog.append returned, i.e. after the line was fsync'd.
"""
from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from annotations.decisions import LABELS
from extract.errors import ScreenError
from review.decide import KEYS, decide, undo_last
from review.pages import page_image, page_texts
from review.queue import next_item
from review.text import esc, evidence_html, facts_table, md, money
from review.ui.common import Ctx, filters, goto, show_flash, show_problems
from review.ui.queue_page import current_selection, hidden_items

VERBS = {"accept": "confirmed", "reject": "rejected", "ignore": "skipped"}
CLAIM_HOLD_SECONDS = 30 * 60
NOTE_JS = """<script>
(() => {
  const doc = window.parent ? window.parent.document : document;
  if (doc.__ssNoteKey) return;
  doc.__ssNoteKey = true;
  doc.addEventListener("keydown", (e) => {
    const t = e.target, typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA"
                                      || t.isContentEditable);
    if (!typing && (e.key === "n" || e.key === "N") && !e.ctrlKey && !e.metaKey && !e.altKey) {
      const box = doc.querySelector('input[aria-label^="Note"]');
      if (box) { e.preventDefault(); box.focus(); }
    } else if (typing && e.key === "Escape") { t.blur(); }
  });
})();
</script>"""


def current_item(ctx: Ctx) -> int | None:
    """The item this session shows: the one opened or served last, else the next one
    in the queue (claimed for this reviewer)."""
    q = ctx.q
    cur = st.session_state.get("current")
    if cur:
        i = q.item(*cur)
        if i is not None:   # shown even when another reviewer holds it (_hold warns)
            return i
    skipped = st.session_state.setdefault("skipped", set())
    i = next_item(q, current_selection(ctx, filters()), ctx.claims, ctx.reviewer, skipped)
    st.session_state["current"] = (q.doc_id(i), q.label(i)) if i is not None else None
    return i


@st.fragment(run_every=60)
def _hold(ctx: Ctx, key: str) -> None:
    """Claim the shown item, and renew the claim every minute while it stays open
    (claims last ``claim_ttl``, 5 minutes by default, and a long PDF takes longer
    to read), for at most half an hour after it was first shown: a forgotten tab
    lets go. Warns when another reviewer holds it (opened from a list, or this
    reviewer's claim lapsed)."""
    if ctx.claims is None:
        return
    first = st.session_state.setdefault("claim_since", {}).setdefault(key, time.time())
    mine = time.time() - first < CLAIM_HOLD_SECONDS and ctx.claims.claim(key, ctx.reviewer)
    holder = None if mine else ctx.claims.holder(key)
    if holder and holder != ctx.reviewer:
        st.warning(md(f"{holder} has this item open too. Your answer is saved alongside "
                      "theirs; two different answers make it disputed."))


# ------------------------------------------------------------------ callbacks

def _release(ctx: Ctx, i: int) -> None:
    if ctx.claims is not None:
        ctx.claims.release(ctx.q.key(i), ctx.reviewer)


def on_decide(ctx: Ctx, i: int, answer: str, label: str | None = None,
              kind: str = "label") -> None:
    q = ctx.q
    label = label or q.label(i)
    try:
        line = q.store.line(q.row(i))
        d = decide(ctx.log, line, label, answer, ctx.reviewer,
                   st.session_state.get("note", ""), kind)
    except (ScreenError, OSError) as err:
        st.session_state["flash_error"] = md(f"Not saved: {err}")
        return
    st.session_state["note"] = ""
    added = answer == "accept" and (label != q.label(i) or not q.predicted[i])
    what = "added missing label" if added else VERBS[answer]
    name = line.get("vendor") or line.get("title") or d.doc_id
    st.session_state["flash"] = f"Saved ({d.time}): {what} {label} on {md(name)}"
    if label == q.label(i):
        _release(ctx, i)
        st.session_state["current"] = None


def on_skip(ctx: Ctx, i: int) -> None:
    _release(ctx, i)
    st.session_state.setdefault("skipped", set()).add(i)
    st.session_state["current"] = None


def on_undo(ctx: Ctx) -> None:
    try:
        undone = undo_last(ctx.log, ctx.reviewer)
    except (ScreenError, OSError) as err:
        st.session_state["flash_error"] = md(f"Undo not saved: {err}")
        return
    if undone is None:
        st.session_state["flash"] = "Nothing to undo."
        return
    if cur := st.session_state.get("current"):
        i = ctx.q.item(*cur)
        if i is not None:
            _release(ctx, i)
    st.session_state["current"] = (undone.doc_id, undone.label)
    st.session_state["flash"] = (f"Saved: undid your {VERBS.get(undone.answer, undone.answer)} "
                                 f"{undone.label} on {md(undone.doc_id)}")


# ------------------------------------------------------------------ drawing

def decision_bar(ctx: Ctx, i: int, line: dict) -> None:
    q = ctx.q
    label = q.label(i)
    st.text_input(f"Note ({KEYS['note']}), saved with your next decision", key="note",
                  placeholder="optional: why, what to check, …")
    b = st.columns(6)
    b[0].button(f"Confirm {label}", type="primary", shortcut=KEYS["accept"], key="b_accept",
                on_click=on_decide, args=(ctx, i, "accept"), width="stretch")
    b[1].button(f"Reject {label}", shortcut=KEYS["reject"], key="b_reject",
                on_click=on_decide, args=(ctx, i, "reject"), width="stretch")
    others = [x for x in LABELS if x != label]
    missing = b[2].selectbox("missing label", others, label_visibility="collapsed",
                             key="missing_label",
                             format_func=lambda x: x + ("" if x in _predicted(line)
                                                        else " (not predicted)"))
    b[3].button("Add missing label", shortcut=KEYS["missing"], key="b_missing",
                on_click=on_decide, args=(ctx, i, "accept", missing), width="stretch")
    b[4].button("Skip", shortcut=KEYS["skip"], key="b_skip", on_click=on_skip, args=(ctx, i),
                width="stretch")
    b[5].button("Undo last", shortcut=KEYS["undo"], key="b_undo", on_click=on_undo,
                args=(ctx,), width="stretch")
    st.html(NOTE_JS, unsafe_allow_javascript=True)


def _predicted(line: dict) -> set[str]:
    """The line's labels that are ours (a hostile line may name anything)."""
    ours = set(LABELS)
    return {x.get("label") for x in line.get("labels") or [] if isinstance(x, dict)} & ours


def facts(line: dict) -> str:
    meta = line.get("metadata") or {}
    src = line.get("source") or {}
    record = src.get("record")
    return facts_table([
        ("vendor", line.get("vendor")), ("parent", line.get("parent") or meta.get("parent_name")),
        ("agency", meta.get("agency_name") or line.get("agency")),
        ("department", meta.get("department")), ("award id (PIID)", meta.get("piid")),
        ("parent award id", meta.get("parent_piid")), ("award key", meta.get("award_key")),
        ("modification", meta.get("modification")), ("amount", money(meta.get("amount"))),
        ("action date", meta.get("action_date")),
        ("period", " to ".join(x for x in (meta.get("start_date"), meta.get("end_date")) if x)),
        ("title / description", line.get("title")), ("pages", meta.get("pages")),
        ("source", f"{src.get('path', '')}" + (f" record {record}" if record is not None else "")),
        ("document id", line.get("doc_id")), ("model", line.get("model_version"))])


def status_for_me(ctx: Ctx, doc_id: str, label: str) -> str:
    """The item's status, or "blind review" while this reviewer's answer is still
    wanted on an item another reviewer answered (double review)."""
    i = ctx.q.item(doc_id, label)
    if i is not None and i in hidden_items(ctx):
        return "blind review"
    return ctx.state.status(doc_id, label)


def scores_rows(ctx: Ctx, line: dict) -> list[dict]:
    scores, passing = line.get("scores") or {}, _predicted(line)
    return [{"label": x, "score": scores.get(x), "threshold": ctx.q.thresholds[x],
             "predicted": x in passing, "status": status_for_me(ctx, line["doc_id"], x)}
            for x in LABELS]


def evidence(ctx: Ctx, line: dict, label: str) -> None:
    evs = next((x.get("evidence") or [] for x in line.get("labels") or []
                if isinstance(x, dict) and x.get("label") == label), [])
    if not evs:
        st.caption("The model gives no evidence for this label (it is below the threshold).")
        return
    texts = _page_texts(ctx, line) if line.get("kind") == "pdf" else {}
    for ev in evs:
        where = f"page {ev['page']}" if ev.get("page") else ev.get("field") or "text"
        st.html(f"<small>{esc(where)} · passage score {esc(ev.get('score'))}</small>"
                + evidence_html(ev, texts.get(ev.get("page"))))


def _pdf_path(ctx: Ctx, line: dict) -> Path:
    bases = [Path(f).resolve().parent for f in ctx.q.store.files]
    return ctx.root.resolve((line.get("source") or {}).get("path", ""), bases)


def _page_texts(ctx: Ctx, line: dict) -> dict:
    ocr = set((line.get("metadata") or {}).get("ocr_pages") or [])
    try:
        texts = page_texts(_pdf_path(ctx, line), ctx.cache)
    except ScreenError:
        return {}
    return {k: v for k, v in texts.items() if k not in ocr}


def pdf_pages(ctx: Ctx, line: dict, label: str) -> None:
    try:
        path = _pdf_path(ctx, line)
    except ScreenError as err:
        st.warning(md(f"Page images unavailable: {err.line()}"))
        return
    evs = next((x.get("evidence") or [] for x in line.get("labels") or []
                if isinstance(x, dict) and x.get("label") == label), [])
    on = sorted({ev["page"] for ev in evs if ev.get("page")})   # ints: store.item_view
    pages = max([(line.get("metadata") or {}).get("pages") or 1, *on])
    first = on[0] if on else 1
    page = st.number_input(f"Page (1-{pages}); evidence on "
                           + (", ".join(str(p) for p in on) or "none"),
                           min_value=1, max_value=pages, value=first,
                           key=f"page_{line['doc_id']}")
    boxes = [b for ev in evs if ev.get("page") == page for b in ev.get("boxes") or []]
    try:
        png = page_image(path, int(page), boxes, cache=ctx.cache)
    except ScreenError as err:
        st.warning(md(f"Cannot show page {page}: {err.line()}"))
        return
    st.image(png, caption=f"page {page} of {pages}; evidence boxes for {label}")


def related(ctx: Ctx, i: int) -> None:
    q = ctx.q
    store, label = q.store, q.label(i)
    rows = store.related(q.row(i))
    if not rows:
        return
    k = LABELS.index(label)
    with st.expander(f"Other transactions of this award and vendor ({len(rows)})"):
        for j in rows[:30]:     # one full-width button per row: nothing squeezes "Open"
            st.button(md(f"Open: {store.dates[j]} · {money(store.amount[j])} · "
                         f"{store.titles[j][:100]} · {label} score "
                         f"{float(store.scores[j, k]):.3f}"),
                      key=f"rel_{j}", on_click=goto, args=("item",),
                      kwargs={"current": (store.doc_ids[j], label)}, width="stretch")
        if len(rows) > 30:
            st.caption(f"… and {len(rows) - 30} more")


def render(ctx: Ctx) -> None:
    show_problems(ctx)
    show_flash()
    i = current_item(ctx)
    if i is None:
        st.title("Nothing left to review")
        st.info("No item matches the queue filters, or the rest are held by other reviewers.")
        st.button("Undo last", shortcut=KEYS["undo"], key="b_undo", on_click=on_undo,
                  args=(ctx,))
        return
    q = ctx.q
    label = q.label(i)
    shown = (q.doc_id(i), label)
    if st.session_state.get("note_item") != shown:  # a note belongs to the item it was typed on
        st.session_state["note_item"] = shown
        st.session_state["note"] = ""
    _hold(ctx, q.key(i))
    try:
        line = q.store.line(q.row(i))
    except ScreenError as err:
        st.error(md(f"Error: {err.line()}"))
        return
    kind = "proposed by the model" if q.predicted[i] else "not predicted (possible missing label)"
    st.title(f"{label}: {float(q.score[i]):.3f}")
    st.caption(f"{kind} · threshold {q.thresholds[label]:.3f} · status "
               f"{status_for_me(ctx, line['doc_id'], label)}")
    mine = ctx.state.item(line["doc_id"], label).answers.get(ctx.reviewer)
    if mine:
        st.caption(f"Your earlier answer: {mine}")
    decision_bar(ctx, i, line)
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Evidence")
        evidence(ctx, line, label)
        for other in sorted(_predicted(line) - {label}):
            with st.expander(f"Evidence for {md(other)}"):
                evidence(ctx, line, other)
        if line.get("kind") == "pdf":
            st.subheader("Document")
            pdf_pages(ctx, line, label)
    with right:
        st.subheader("Record")
        st.html(facts(line))
        st.dataframe(scores_rows(ctx, line), hide_index=True)
        related(ctx, i)
