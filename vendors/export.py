"""Write a rollup as CSV (for Excel), JSON (for programs) or Markdown (for people).

Every format is a pure function of the rollup, which is itself a function of
the input bytes: no clock, no locale, sorted rows, so rebuilding from the same
inputs gives the same bytes.

CSV: UTF-8 with a byte-order mark (Excel otherwise reads it as cp1252), text
cells quoted, numbers left unquoted so Excel keeps them numeric, and any text
cell that Excel would read as a formula (starting with = + - @, tab or CR)
prefixed with an apostrophe. Provenance goes into a sidecar
``<list>.csv.provenance.json`` so that the sheet itself stays one clean table.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from extract.errors import InputError
from extract.files import write_whole
from vendors.lines import printable, safe_link
from vendors.rows import Rollup, VendorRow

# A file name that is not UTF-8 reaches the list as surrogates: written as \\udcff
# (a JSON escape in the JSON list), never an encoding error.
_UNDECODED = "backslashreplace"

COLUMNS = ("vendor", "parent", "category", "status", "agencies", "obligated", "first_date",
           "last_date", "documents", "evidence")
EXTRA_COLUMNS = ("entity_type", "vendor_key", "best_score", "confirmed_documents",
                 "rejected_documents", "obligated_covered", "evidence_links", "variants")
FORMATS = (".csv", ".json", ".md")
CATEGORY_TITLES = {"data_broker": "Data-broker services", "extreme_vetting": "Extreme vetting",
                   "detention": "Immigration detention"}
EXCEL_CELL = 32_000
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#|~])")  # < > & become entities first
_SPACE = re.compile(r"\s+")
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


def excel_text(value) -> str:
    """A text cell Excel shows as text: formula starts guarded, whitespace collapsed."""
    text = _SPACE.sub(" ", "" if value is None else str(value)).strip()
    if len(text) > EXCEL_CELL:  # Excel truncates (or refuses) longer cells
        text = text[:EXCEL_CELL - 1] + "…"
    return "'" + text if text.startswith(_FORMULA) else text


def md_escape(text) -> str:
    """Text safe inside Markdown (and the HTML it becomes): one line, no markup.

    ``<`` and ``>`` become entities (no HTML tags), ``&`` only where it would
    start an entity (so "M&T" stays readable), and Markdown punctuation that
    could make links, emphasis, code or table cells is backslash-escaped.
    """
    text = _SPACE.sub(" ", "" if text is None else str(text)).strip()
    text = _ENTITY.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def money(x: float) -> str:
    return f"-${-x:,.2f}" if x < 0 else f"${x:,.2f}"


def evidence_text(row: VendorRow) -> str:
    return " | ".join(f"{e.text} [{e.doc_id}, {e.where()}]" for e in row.evidence)


def csv_record(row: VendorRow) -> list:
    text = excel_text
    return [text(row.vendor), text(row.parent), text(row.category), text(row.status),
            text(row.agencies), row.obligated, text(row.first_date), text(row.last_date),
            row.documents, text(evidence_text(row)),
            text(row.entity_type), text(row.vendor_key), row.best_score, row.confirmed,
            row.rejected, row.obligated_covered, text(" ".join(e.link for e in row.evidence)),
            text("; ".join(row.variants))]


def to_csv(roll: Rollup) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    writer.writerow(COLUMNS + EXTRA_COLUMNS)
    for row in roll.rows:
        writer.writerow(csv_record(row))
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8", _UNDECODED)


def _json(obj) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False)
            + "\n").encode("utf-8", _UNDECODED)


def provenance_dict(roll: Rollup) -> dict:
    return {"tool": "sanctuary-screen vendors", "columns": list(COLUMNS + EXTRA_COLUMNS),
            **roll.provenance.to_dict()}


def to_json(roll: Rollup) -> bytes:
    return _json({"provenance": provenance_dict(roll),
                  "rows": [r.to_dict() for r in roll.rows]})


INTRO = """\
This list names companies that, according to federal award records and documents screened by
`sanctuary-screen`, provide **data-broker**, **extreme-vetting** or **immigration detention**
services to U.S. immigration agencies. Each entry is one company and one category, with the
records that show it.

How to read an entry:
- **Status** `confirmed`: a reviewer confirmed at least one of the company's documents for the
  category, or confirmed the company as a whole. `proposed`: only the model flags it (its best
  score and the number of supporting documents are given); it still needs review. `rejected`:
  reviewers rejected it (the company as a whole, or every flagged document).
- **Customers**: the awarding agencies of the supporting records; ICE, CBP and ORR are the
  covered immigration agencies, other agencies are listed after them.
- **Obligated**: the sum of the obligated amounts of the supporting award transactions only (the
  records that show the service), not the company's other business; modifications that take
  money back are negative. Documents other than award records carry no amount.
- **Evidence**: up to three passages, strongest first (reviewer-confirmed documents before
  model-only ones), each with a link to its record on USAspending.gov or to its file and page.
- **Entity**: every entry is marked `company` or `government` (column `entity_type` in the CSV
  and JSON). `government` means the recipient's name names a government body: a county, parish,
  city, town, township or borough, a state or commonwealth, a sheriff, state police, highway
  patrol or police department, a "department of", "board of" or "office of", a school or water
  district, a water supply corporation, or a housing, port or transit authority. It is decided
  from the name alone, so check it before relying on it. Government bodies (for example county
  jails holding detainees under an agreement with ICE) are kept on the list, flagged, so that
  they can be filtered out or in.
- **Spellings and member companies**: "Also spelled" lists other spellings of the company's own
  name; "Includes" lists other companies counted with it, its subsidiaries, parent or former
  names, joined through the recipient parent in the award data, shared identifiers, or the
  curated table of corporate parents.
- The *key* identifies the company across spellings and across rebuilds of this list: it is made
  from the alphabetically first name of the company's top parent (or of the company itself), so
  it does not change when new records make another spelling the most common."""


def to_markdown(roll: Rollup, quote_chars: int = 240) -> bytes:
    p = roll.provenance
    out = ["# Vendors of data-broker, extreme-vetting and detention services to immigration "
           "agencies", "", INTRO, "", "## Sources", ""]
    for f in p.results:
        out.append(f"- Results `{md_escape(f['path'])}`: {f['lines']:,} lines, "
                   f"sha256 `{f['sha256']}`")
    if p.decisions:
        d = p.decisions
        digest = f"sha256 `{d['sha256']}`" if d["sha256"] else "not found (no reviews)"
        out.append(f"- Decision log `{md_escape(d['path'])}`: {d['decisions']:,} decisions, "
                   f"{digest}")
    else:
        out.append("- Decision log: none given (every status is the model's proposal)")
    for version, n in p.model_versions.items():
        out.append(f"- Model `{md_escape(version)}`: {n:,} lines")
    notes = [f"{n:,} {what}" for n, what in ((p.errors, "documents that could not be read"),
                                            (p.bad_lines, "unreadable lines"),
                                            (p.duplicates, "repeated documents counted once"),
                                            (p.no_vendor, "flagged documents without a vendor"))
             if n]
    if notes:
        out.append("- Skipped: " + "; ".join(notes))
    categories = sorted({r.category for r in roll.rows},
                        key=lambda c: (list(CATEGORY_TITLES).index(c)
                                       if c in CATEGORY_TITLES else 99, c))
    out += ["", "## Summary", "", "| Category | Confirmed | Proposed | Rejected | Obligated (not "
            "rejected) |", "|---|---:|---:|---:|---:|"]
    for cat in categories:
        rows = [r for r in roll.rows if r.category == cat]
        n = {s: sum(r.status == s for r in rows) for s in ("confirmed", "proposed", "rejected")}
        dollars = sum(r.obligated for r in rows if r.status != "rejected")
        out.append(f"| {md_escape(CATEGORY_TITLES.get(cat, cat))} | {n['confirmed']} | "
                   f"{n['proposed']} | {n['rejected']} | {money(dollars)} |")
    if not roll.rows:
        out += ["", "No vendor has a flagged or confirmed document in these results."]
    for cat in categories:
        out += ["", f"## {md_escape(CATEGORY_TITLES.get(cat, cat))} (`{md_escape(cat)}`)"]
        for i, row in enumerate((r for r in roll.rows if r.category == cat), 1):
            out += ["", *_entry(i, row, quote_chars)]
    return ("\n".join(out) + "\n").encode("utf-8", _UNDECODED)


def _entry(i: int, row: VendorRow, quote_chars: int) -> list[str]:
    lines = [f"### {i}. {md_escape(row.vendor)}: {row.status}", ""]
    if row.parent and row.parent != row.vendor:
        lines.append(f"- Parent: {md_escape(row.parent)}")
    if row.agencies:
        lines.append(f"- Customers: {md_escape(row.agencies)}")
    span = ""
    if row.first_date:
        span = f", {md_escape(row.first_date)}" + (
            f" to {md_escape(row.last_date)}" if row.last_date != row.first_date else "")
    lines.append(f"- Obligated: {money(row.obligated)} on {row.documents:,} supporting "
                 f"document{'s' if row.documents != 1 else ''}{span}")
    review = f"best model score {row.best_score:.2f}"
    if row.confirmed or row.rejected or row.disputed:
        review += (f"; reviewers confirmed {row.confirmed}, rejected {row.rejected}, disputed "
                   f"{row.disputed}")
    if row.vendor_decision:
        review += f"; company-level decision: {row.vendor_decision}"
    lines.append(f"- Review: {review}")
    if row.entity_type != "company":
        lines.append(f"- Entity: {md_escape(row.entity_type)} body (decided from the name)")
    spelled, members = spellings_and_members(row)
    for title, names in (("Also spelled", spelled), ("Includes", members)):
        if names:
            lines.append(f"- {title}: " + "; ".join(md_escape(v) for v in names[:8])
                         + (f" and {len(names) - 8} more" if len(names) > 8 else ""))
    lines.append(f"- Key: `{md_escape(row.vendor_key)}`")
    for e in row.evidence:
        quote = e.text if len(e.text) <= quote_chars else e.text[:quote_chars - 1].rstrip() + "…"
        tag = "" if e.review in ("unreviewed", "") else f" ({e.review} by a reviewer)"
        lines.append(f"  > “{md_escape(quote)}” ({_link(e)}{tag})")
        lines.append("")
    return lines


def spellings_and_members(row: VendorRow) -> tuple[list[str], list[str]]:
    """(other spellings of the vendor's own name, one spelling per other company
    counted with it). A spelling is the vendor's own when it normalises to the
    same name or the same words in another order; the parent is shown apart."""
    from vendors.names import normalise, order_key

    def same(name: str) -> set:
        n = normalise(name)
        return {n, order_key(n) or n}
    own = same(row.vendor)
    parent = normalise(row.parent) if row.parent else None
    spelled, members, seen = [], [], set()
    for v in row.variants:
        if v == row.vendor:
            continue
        if same(v) & own:
            spelled.append(v)
        elif normalise(v) != parent and normalise(v) not in seen:
            seen.add(normalise(v))
            members.append(v)
    return spelled, members


def _link(e) -> str:
    label = md_escape(e.where())
    url = safe_link(e.link)
    if url:
        return f"[{label}]({url})"
    return f"{label}, `{md_escape(e.doc_id)}`"


def render(roll: Rollup, fmt: str) -> bytes:
    if fmt == ".csv":
        return to_csv(roll)
    if fmt == ".json":
        return to_json(roll)
    if fmt == ".md":
        return to_markdown(roll)
    raise InputError(f"unknown list format {fmt!r}", hint="name the output .csv, .json or .md")


def write_list(roll: Rollup, output: str | Path) -> list[Path]:
    """Write the list (and, for CSV, its provenance sidecar); returns the files written."""
    output = Path(output)
    fmt = output.suffix.lower()
    data = render(roll, fmt)
    written = [output]
    try:
        write_whole(output, data)
        if fmt == ".csv":
            side = sidecar(output)
            write_whole(side, _json(provenance_dict(roll)))
            written.append(side)
    except OSError as exc:
        raise InputError("cannot write the list", str(output), exc.strerror or str(exc)) from exc
    return written


def sidecar(output: Path) -> Path:
    return output.with_name(output.name + ".provenance.json")


@dataclass
class Published:
    """What ``publish`` did: the rollup, the files written, and the diff if asked."""
    rollup: Rollup
    written: list[Path]
    diff: object | None = None       # vendors.diff.Diff


def publish(results: list[str | Path], output: str | Path, decisions: str | Path | None = None,
            previous: str | Path | None = None, diff_output: str | Path | None = None
            ) -> Published:
    """Roll up ``results`` (with the decision log ``decisions``), write the list to
    ``output`` (.csv/.json/.md) and, with ``previous``, the diff against that list CSV
    (JSON, to ``diff_output`` or ``<output>.diff.json``)."""
    from vendors.rollup import rollup

    output = Path(output)
    if output.suffix.lower() not in FORMATS:
        raise InputError("unknown list format", str(output), "name the output .csv, .json or .md")
    if previous is not None and not Path(previous).is_file():
        raise InputError("previous list not found", str(previous),
                         "give the list CSV published last time")
    log = None
    if decisions is not None:
        if not Path(decisions).is_file():
            raise InputError("decision log not found", str(decisions),
                             "give the decisions JSONL of the review app, or leave --decisions out")
        from annotations.decisions import DecisionLog

        log = DecisionLog(Path(decisions))
    roll = rollup(results, log)
    changes = None
    if previous is not None:
        from vendors.diff import diff, write_diff

        changes = diff(previous, roll)
    written = write_list(roll, output)
    if changes is not None:
        written.append(write_diff(changes, diff_output or output.with_name(
            output.name + ".diff.json")))
    return Published(roll, written, changes)


PROBLEMS_SHOWN = 20


def problem_lines(problems: list[str]) -> list[str]:
    """The problems to print, one line each (``file:line: why``), at most
    ``PROBLEMS_SHOWN`` of them and then "… and N more"."""
    shown = [printable(p) for p in problems[:PROBLEMS_SHOWN]]
    if len(problems) > PROBLEMS_SHOWN:
        shown.append(f"… and {len(problems) - PROBLEMS_SHOWN} more")
    return shown



def render_summary(pub: Published) -> str:
    roll = pub.rollup
    n = {s: sum(r.status == s for r in roll.rows) for s in ("confirmed", "proposed", "rejected")}
    vendors = len({r.vendor_key for r in roll.rows})
    p = roll.provenance
    text = (f"Wrote {', '.join(str(w) for w in pub.written)}: {len(roll.rows)} entries for "
            f"{vendors} vendors ({n['confirmed']} confirmed, {n['proposed']} proposed, "
            f"{n['rejected']} rejected) from {p.lines:,} lines of {len(p.results)} results files")
    skipped = [f"{k} {v:,}" for k, v in (("error lines", p.errors), ("unreadable lines", p.bad_lines),
                                         ("repeated documents", p.duplicates)) if v]
    return text + (f"; skipped {', '.join(skipped)}" if skipped else "")
