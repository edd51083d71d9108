"""Vendors page: drawn by review.vendors_page (the vendor rollup)."""
from __future__ import annotations

from review import vendors_page
from review.ui.common import Ctx


def render(ctx: Ctx) -> None:
    vendors_page.render(list(ctx.config.results), ctx.log, ctx.reviewer,
                        ctx.config.double_review)
