"""Vendor resolution (names.py, resolve.py), rollup, list export and diff."""
