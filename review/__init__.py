"""The review app's library: everything app.py draws, as plain data.

- ``store``: results files -> a compact column store (one row per document).
- ``queue``: (document, label) items to review; ordering, filters, claims, double review.
- ``decide``: decisions built from an item and appended to the log; undo.
- ``text``: document text escaped for HTML, evidence highlighted inside it.
- ``pages``: PDF page images with evidence boxes, only from under the data root.
- ``overview``: chart data and Altair charts.
- ``vendor_decisions``: the decision rows the Vendors page shows (blind review kept).
- ``vendors_page``: the Vendors page (vendor rollup, drill-down, vendor decisions).
- ``ui``: the Streamlit pages (layout only).
"""
