"""What every page shares: cached data, reviewer identity, problems, navigation.

Loaded results are cached with ``st.cache_resource`` keyed on each file's path,
mtime and size: one ResultStore + Queue per server process, shared read-only
by all sessions. (``st.cache_data`` would pickle and copy the 60,000-row store
on every rerun; the project uses no pickle.) The parsed store is also kept in
the cache folder (review/store_cache.py), so a restarted app does not parse again.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from annotations.claims import Claims
from annotations.decisions import DecisionLog, LogState
from extract.errors import ScreenError
from review.config import ReviewConfig
from review.pages import DEFAULT_CACHE, DataRoot
from review.queue import Filters, Marks, Queue, build_queue, marks
from review.store import file_key, read_thresholds
from review.store_cache import load_cached
from review.text import STYLE, md


@dataclass
class Ctx:
    config: ReviewConfig
    reviewer: str
    log: DecisionLog
    claims: Claims | None
    q: Queue
    state: LogState
    marks: Marks
    root: DataRoot

    @property
    def cache(self) -> Path:
        return self.config.cache or DEFAULT_CACHE


@st.cache_resource(max_entries=4, show_spinner="Loading results…")
def _queue(key: tuple, cache: str) -> Queue:
    store = load_cached([Path(k[0]) for k in key], Path(cache) / "stores")
    return build_queue(store, read_thresholds())


@st.cache_resource
def _log(path: str) -> DecisionLog:
    return DecisionLog(Path(path))


@st.cache_resource
def _claims(path: str, ttl: float) -> Claims:
    return Claims(Path(path), ttl=ttl)


def load_queue(config: ReviewConfig) -> Queue:
    """The queue of the results files: parsed once per process, and kept on disk in the
    cache folder so a restarted app skips the parse (review/store_cache.py)."""
    return _queue(file_key(config.results), str(config.cache or DEFAULT_CACHE))


def context(config: ReviewConfig, reviewer: str) -> Ctx:
    """Everything a page needs for this run; raises ScreenError on a user mistake."""
    q = load_queue(config)
    log = _log(str(config.log))
    state = log.state()
    memo = q.__dict__.setdefault("_marks_memo", {})
    m = memo.get(id(state))
    if m is None or m[0] is not state:
        memo.clear()
        m = memo[id(state)] = (state, marks(q, state))
    return Ctx(config=config, reviewer=reviewer, log=log,
               claims=_claims(str(config.claims_path), config.claim_ttl), q=q, state=state,
               marks=m[1], root=DataRoot(config.data_root))


def auth_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def reviewer_identity() -> str | None:
    """The signed-in user (OIDC via st.login) or the name typed once per session.
    Draws the login / name form and returns None until there is one."""
    if auth_configured():
        if st.user.get("is_logged_in", False):   # an attribute only from Streamlit 1.67
            return str(st.user.get("email") or st.user.get("name") or "signed-in user")
        st.title("Sanctuary screen review")
        st.button("Log in", on_click=st.login, type="primary")
        return None
    name = st.session_state.get("reviewer")
    if name:
        return name
    st.title("Sanctuary screen review")
    with st.form("who"):
        typed = st.text_input("Your name (recorded with every decision)", max_chars=80)
        if st.form_submit_button("Start reviewing", type="primary"):
            typed = " ".join(typed.split())
            if typed:
                st.session_state["reviewer"] = typed
                st.rerun()
            st.error("Type your name first: every decision records who made it.")
    return None


def show_problems(ctx: Ctx) -> None:
    """Corrupt lines of the results files and the log: reported, never fatal."""
    store = ctx.q.store
    if store.problems:
        st.warning(md(f"{len(store.problems)} unusable results lines were skipped: "
                      + "; ".join(store.problems[:5])
                      + (" …" if len(store.problems) > 5 else "")))
    problems = ctx.state.problems
    if problems:
        shown = "; ".join(f"line {p.line}: {p.message}" for p in problems[:5])
        st.warning(md(f"{len(problems)} corrupt lines in the decision log {ctx.log.path} were "
                      f"skipped: {shown}" + (" …" if len(problems) > 5 else "")))


def show_flash() -> None:
    """The message a callback left for this run ("flash_error" / "flash"), shown once."""
    if msg := st.session_state.pop("flash_error", None):
        st.error(msg)
    if msg := st.session_state.pop("flash", None):
        st.success(msg, icon="✅")


def goto(page: str, **state) -> None:
    """Switch page on the next run (use in callbacks), setting session values first."""
    st.session_state.update(state)
    st.session_state["goto"] = page


def filters() -> Filters:
    return st.session_state.get("filters") or Filters()


def inject_style() -> None:
    st.html(STYLE)


def error(err: ScreenError) -> None:
    st.error(md(f"Error: {err.line()}"))
