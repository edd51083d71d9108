"""The review app: ``sanctuary-screen review RESULTS.jsonl`` or
``streamlit run app.py -- RESULTS.jsonl [--log annotations/decisions.jsonl] [--data-root DIR]
[--double-review SHARE]``. Layout only; the pages live in review/ui/, the data in review/.
"""
from __future__ import annotations

import sys
from functools import partial

import streamlit as st

from extract.errors import ScreenError
from review.config import parse
from review.decide import KEYS
from review.ui import agreement_page, common, item_page, overview_page, queue_page, vendors_page

st.set_page_config(page_title="Sanctuary screen review", page_icon="🔎", layout="wide")

PAGES = (("queue", "Queue", queue_page), ("item", "Item", item_page),
         ("overview", "Overview", overview_page), ("agreement", "Agreement", agreement_page),
         ("vendors", "Vendors", vendors_page))


def sidebar(ctx: common.Ctx) -> None:
    with st.sidebar:
        st.text(f"Reviewer: {ctx.reviewer}")  # st.text: no Markdown
        if common.auth_configured():
            st.button("Log out", on_click=st.logout)
        else:
            st.button("Change reviewer", on_click=st.session_state.pop, args=("reviewer", None))
        st.caption(f"Decision log: `{ctx.log.path}` · {ctx.state.count:,} decisions")
        st.caption("Keys: " + " · ".join(f"**{k}** {a}" for a, k in KEYS.items()))


def main() -> None:
    try:
        config = parse(sys.argv[1:])
    except ScreenError as err:
        common.error(err)
        return
    except SystemExit:
        st.error("Error: the app's arguments could not be read; start it with "
                 "`sanctuary-screen review RESULTS.jsonl`.")
        return
    if not config.results:
        st.error("Error: no results files given: start the app with "
                 "`sanctuary-screen review RESULTS.jsonl`.")
        return
    reviewer = common.reviewer_identity()
    if reviewer is None:
        return
    try:
        ctx = common.context(config, reviewer)
    except ScreenError as err:
        common.error(err)
        return
    common.inject_style()
    pages = {name: st.Page(partial(module.render, ctx), title=title, url_path=name,
                           default=name == "queue")
             for name, title, module in PAGES}
    nav = st.navigation(list(pages.values()))
    target = st.session_state.pop("goto", None)
    if target in pages and target != nav.url_path:
        st.switch_page(pages[target])
    sidebar(ctx)
    nav.run()


main()
