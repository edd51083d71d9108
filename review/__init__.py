"""The review app's library: everything app.py draws, as plain data.

- ``store``: results files -> a compact column store (one row per document).
- ``queue``: (document, label) items to review; ordering, filters, claims, double review.
- ``decide``: decisions built from an item and appended to the log; undo.
- ``text``: document text escaped for HTML, evidence highlighted inside it.
- ``pages``: PDF page images with evidence boxes, only from under the data root.
- ``overview``: chart data and Altair charts.
- ``ui``: the Streamlit pages (layout only).
"""
