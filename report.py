"""Plain-text summaries of a classify run and of results files (for the terminal)."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from extract.errors import InputError
from vendors.lines import line_problem, printable

LABEL_ORDER = ("data_broker", "extreme_vetting", "detention")


@dataclass
class ResultsSummary:
    files: list[str]
    records: int = 0
    errors: int = 0
    by_label: Counter = field(default_factory=Counter)
    dollars: Counter = field(default_factory=Counter)
    by_label_agency: Counter = field(default_factory=Counter)
    vendors: dict = field(default_factory=lambda: defaultdict(Counter))
    model_versions: Counter = field(default_factory=Counter)


def read_results(paths: list[str | Path]) -> ResultsSummary:
    """Fold results files into counts; memory grows with vendors, not lines."""
    summary = ResultsSummary(files=[str(p) for p in paths])
    for path in paths:
        try:
            fh = open(path, encoding="utf-8")
        except OSError as exc:
            raise InputError("cannot open results", str(path), exc.strerror or str(exc)) from exc
        with fh:
            for n, raw in enumerate(fh, 1):
                try:
                    line = json.loads(raw)
                except (ValueError, RecursionError):  # torn, or not JSON Python reads
                    summary.errors += 1  # counted, not fatal
                    continue
                if type(line) is not dict or line_problem(line):
                    summary.errors += 1  # not a results line (a field of the wrong type)
                    continue
                summary.records += 1
                summary.model_versions[line.get("model_version")] += 1
                if line.get("error"):
                    summary.errors += 1
                    continue
                amount = (line.get("metadata") or {}).get("amount") or 0.0
                for item in line.get("labels", []):
                    label = item["label"]
                    summary.by_label[label] += 1
                    summary.dollars[label] += amount
                    summary.by_label_agency[(label, printable(line.get("agency")) or "none")] += 1
                    summary.vendors[label][_vendor_name(line)] += amount
    return summary


def _vendor_name(line: dict) -> str:
    """The vendor, or for a document that names none (a PIA, a FOIA letter) its file name."""
    if line.get("vendor"):
        return printable(line["vendor"])  # document text: no terminal escapes
    path = (line.get("source") or {}).get("path")
    return f"(no vendor named) {printable(Path(path).name)}" if path else "(no vendor named)"


def _money(x: float) -> str:
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"${x / div:,.1f}{unit}"
    return f"${x:,.0f}"


def render_summary(summary: ResultsSummary, top: int = 5) -> str:
    agencies = sorted({a for _, a in summary.by_label_agency})
    head = f"{'label':<16} {'records':>8} {'obligated':>10}  " + " ".join(f"{a:>6}" for a in agencies)
    lines = [f"{summary.records} records in {', '.join(summary.files)}"
             f" ({summary.errors} errors)", "", head, "-" * len(head)]
    for label in LABEL_ORDER:
        lines.append(f"{label:<16} {summary.by_label[label]:>8} {_money(summary.dollars[label]):>10}  "
                     + " ".join(f"{summary.by_label_agency[(label, a)]:>6}" for a in agencies))
    for label in LABEL_ORDER:
        vendors = summary.vendors.get(label)
        if vendors:
            lines += ["", f"Top vendors by obligated dollars, {label}:"]
            lines += [f"  {_money(v):>10}  {name}" for name, v in vendors.most_common(top)]
    return "\n".join(lines)


def render_run(run) -> str:
    """What a classify run did, then the summary of its output."""
    lines = [f"Classified {run.records} records from {run.files} files in {run.seconds:.1f} s"
             + (f" ({run.pages} PDF pages)" if run.pages else "")
             + (f" ({run.records / run.seconds:,.0f} records/s)" if run.seconds else "")
             + (f"; {run.skipped} already done (resumed)" if run.skipped else "")
             + (f"; {run.failed_records} record errors" if run.failed_records else "")
             + (f"; {len(run.failed_files)} files failed" if run.failed_files else "") + "."]
    lines += ["", render_summary(read_results([run.output])), "",
              f"Results: {run.output} (model {run.model_version})"]
    return "\n".join(lines)
