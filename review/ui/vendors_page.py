"""Vendors page: drawn by review.vendors_page (the rollup) when that module exists."""
from __future__ import annotations

import importlib.util

import streamlit as st

from review.ui.common import Ctx


def render(ctx: Ctx) -> None:
    if importlib.util.find_spec("review.vendors_page") is None:
        st.title("Vendors")
        st.info("The vendor rollup is not available in this installation.")
        return
    from review import vendors_page

    vendors_page.render(list(ctx.config.results), ctx.log, ctx.reviewer)
