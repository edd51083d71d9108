"""The ``sanctuary-screen`` command: parses options and calls library functions.

Library code raises ``ScreenError``s; this module alone turns them into
``Error: <what> (<file>): <hint>`` on stderr and an exit code.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from extract.errors import ScreenError
from models import store  # paths only: skops and scikit-learn load with a model

# Each works on a fresh clone after `make demo` (with .venv/bin on PATH); `decisions`
# once the review app has written a decision log.
EXAMPLES = {
    "classify": "sanctuary-screen classify demo/data -o results/demo.jsonl --jobs 2",
    "train": "sanctuary-screen train",
    "evaluate": "sanctuary-screen evaluate --cv 5",
    "summary": "sanctuary-screen summary results/demo.jsonl",
    "review": "sanctuary-screen review results/demo.jsonl --data-root demo/data",
    "vendors": "sanctuary-screen vendors results/demo.jsonl -o results/vendors.md",
    "decisions": "sanctuary-screen decisions export results/demo.jsonl -o results/tasks.jsonl",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sanctuary-screen",
        description="Find award records and documents that show data-broker, extreme-vetting "
                    "or detention services sold to immigration agencies.")
    sub = p.add_subparsers(dest="command", required=True)

    def command(name: str, **kw) -> argparse.ArgumentParser:
        # the epilog (an example) is printed as written: a wrapped command does not paste
        return sub.add_parser(name, formatter_class=argparse.RawDescriptionHelpFormatter, **kw)

    c = command("classify", help="classify award files (CSV) and PDFs into results JSONL",
                       epilog="example: " + EXAMPLES["classify"])
    c.add_argument("inputs", nargs="+",
                   help="award files (CSV), PDFs, or folders (searched for *.csv and *.pdf)")
    c.add_argument("-o", "--output", required=True, help="results file (JSONL)")
    c.add_argument("--model", default=str(store.DEFAULT_MODEL), help="model file (.skops)")
    c.add_argument("--jobs", "-j", type=int, default=1, help="worker processes (default 1)")
    c.add_argument("--force", action="store_true", help="overwrite OUTPUT instead of resuming")
    c.add_argument("--encoding", help="text encoding of the CSV files (default UTF-8)")
    c.add_argument("--ocr", choices=("auto", "always", "never"), default="auto",
                   help="OCR PDF pages: auto (pages with no or a garbled text layer), "
                        "always, never (default auto)")
    c.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on Dask (needs the 'dask' extra): a scheduler address "
                        "(tcp://host:8786) whose workers have this package and the model, "
                        "or local / local:N to start N local worker processes (default --jobs)")
    c.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary")

    t = command("train", help="train the classifier from annotations/training",
                       epilog="example: " + EXAMPLES["train"])
    t.add_argument("--model", default=str(store.DEFAULT_MODEL), help="where to save the model")
    t.add_argument("--data", nargs="*", help="training JSONL files (default annotations/training)")
    t.add_argument("-C", type=float, default=32.0, help="inverse regularisation (default 32)")

    e = command("evaluate", help="per-label metrics of the model and the keyword "
                       "baseline on the development split", epilog="example: " + EXAMPLES["evaluate"])
    e.add_argument("--model", default=str(store.DEFAULT_MODEL), help="model file (.skops)")
    e.add_argument("--data", nargs="*", help="labelled JSONL (default annotations/training)")
    e.add_argument("--no-refit", action="store_true",
                   help="score the saved model on all of --data (data it was not trained on)")
    e.add_argument("--cv", type=int, metavar="K",
                   help="grouped K-fold cross-validation over all labelled data instead of "
                        "the development split (steadier for rare labels; K fits)")
    e.add_argument("--json", action="store_true", help="print the full result as JSON")

    s = command("summary", help="counts of labels per agency and top vendors in results",
                       epilog="example: " + EXAMPLES["summary"])
    s.add_argument("results", nargs="+", help="results files (JSONL) written by classify")

    v = command("vendors", help="the vendor list: per vendor and category, status, "
                       "dollars, dates and evidence; optionally the changes since a previous list",
                       epilog="example: " + EXAMPLES["vendors"])
    v.add_argument("results", nargs="+", help="results files (JSONL) written by classify")
    v.add_argument("--decisions", help="decision log of the review app (JSONL)")
    v.add_argument("-o", "--output", required=True,
                   help="list file: .csv (Excel; provenance in OUTPUT.provenance.json), "
                        ".json or .md (a report for readers)")
    v.add_argument("--previous", help="list CSV published before: print what changed and "
                   "write it as JSON")
    v.add_argument("--diff", help="where to write the changes (default OUTPUT.diff.json)")
    v.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")

    r = command("review", help="open the review app (Streamlit) on results files",
                       epilog="example: " + EXAMPLES["review"])
    r.add_argument("results", nargs="+", help="results files (JSONL)")
    r.add_argument("--log", help="decision log (default annotations/decisions.jsonl)")
    r.add_argument("--data-root", default=".",
                   help="only documents under this folder are opened (default: here)")
    r.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    r.add_argument("--address", default="127.0.0.1",
                   help="address to serve on (default 127.0.0.1: this machine only; "
                        "0.0.0.0 serves reviewers on other machines)")
    r.add_argument("--double-review", type=float, default=0.0, metavar="SHARE",
                   help="share of items (0-1) also sent blind to a second reviewer")

    d = command("decisions", help="move review decisions out and in: training data, "
                       "Prodigy-style JSONL", epilog="example: " + EXAMPLES["decisions"])
    d.add_argument("action", choices=("training", "export", "import"),
                   help="training: write settled decisions as training data that `train` "
                        "reads; export: write Prodigy-style JSONL; import: append the "
                        "decisions of a Prodigy-style JSONL file to the log")
    d.add_argument("results", nargs="*", help="results files (JSONL) the decisions are about")
    d.add_argument("--log", help="decision log (default annotations/decisions.jsonl)")
    d.add_argument("-o", "--output", help="training: default annotations/training/reviewed.jsonl;"
                   " export: required")
    d.add_argument("--input", "-i", help="import: the Prodigy-style JSONL file")
    d.add_argument("--final", action="store_true",
                   help="export: one task per settled item instead of every standing decision")
    d.add_argument("--reviewer", default="",
                   help="import: reviewer for tasks that name none")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ScreenError as err:
        print(f"Error: {err.line()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted: re-run the same command to resume.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `sanctuary-screen evaluate | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _classify(args) -> int:
    import pipeline
    from report import render_run

    if args.jobs < 1:
        raise ScreenError("--jobs must be at least 1")
    bar = None
    if not args.quiet and sys.stderr.isatty():
        from tqdm import tqdm
        bar = tqdm(unit="doc", unit_scale=True, dynamic_ncols=True, file=sys.stderr)

    def progress(done: int, total: int, run) -> None:
        bar.total = total
        bar.n = done
        if run.pages:
            bar.set_postfix(pages=run.pages, refresh=False)
        bar.refresh()

    try:  # "is not None": a tqdm bar with no total yet refuses bool()
        summary = pipeline.run(args.inputs, args.output, Path(args.model), jobs=args.jobs,
                               force=args.force, encoding=args.encoding, ocr=args.ocr,
                               progress=progress if bar is not None else None,
                               scheduler=args.scheduler)
    finally:
        if bar is not None:
            bar.close()
    for message in summary.messages:
        print(f"Error: {message}", file=sys.stderr)
    if summary.failed_records:
        files = "; ".join(f"{path}: {n}" for path, n in sorted(summary.failed_by_file.items()))
        print(f"Error: {summary.failed_records} records could not be read ({files}); their "
              f"error lines are in {summary.output}", file=sys.stderr)
    if not args.quiet:
        print(render_run(summary))
    return 0 if summary.ok else 1


def _train(args) -> int:
    from models.data import load_examples
    from models.train import train

    examples = load_examples([Path(p) for p in args.data] if args.data else None)
    card = train(examples, Path(args.model), C=args.C)
    print(f"Trained {card['model_version']} on {card['data']['examples']} passages in "
          f"{card['train_seconds']} s; saved {args.model}")
    for label, m in card["dev_metrics"].items():
        print(f"  {label:<16} dev precision {m['precision']:.3f} recall {m['recall']:.3f} "
              f"F1 {m['f1']:.3f} threshold {card['thresholds'][label]:.3f}")
    print(f"  macro-F1 {card['macro_f1_dev']:.3f}; card: "
          f"{store.card_path(Path(args.model)).with_suffix('.md')}")
    return 0


def _evaluate(args) -> int:
    from models.data import load_examples
    from models.evaluate import evaluate, render

    examples = load_examples([Path(p) for p in args.data] if args.data else None)
    result = evaluate(examples, Path(args.model), refit=not args.no_refit, cv=args.cv)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


def _summary(args) -> int:
    from report import read_results, render_summary

    print(render_summary(read_results(args.results)))
    return 0


def _vendors(args) -> int:
    from vendors.diff import render_diff
    from vendors.export import problem_lines, publish, render_summary

    pub = publish(args.results, args.output, decisions=args.decisions,
                  previous=args.previous, diff_output=args.diff)
    for problem in problem_lines(pub.rollup.problems):   # skipped lines, file:line
        print(f"Warning: {problem}", file=sys.stderr)
    if not args.quiet:
        print(render_summary(pub))
        if pub.diff is not None:
            print(render_diff(pub.diff))
    return 0


def _review(args) -> int:
    import subprocess

    for path in args.results:                          # missing file: Error, not a blank app
        if not Path(path).is_file():
            raise ScreenError("cannot open results", path, "no such file")
    if not 0.0 <= args.double_review <= 1.0:
        raise ScreenError(f"--double-review {args.double_review} is not a share between 0 and 1")
    app = Path(__file__).resolve().parent / "app.py"
    extra = ["--data-root", str(Path(args.data_root).resolve()),
             "--double-review", str(args.double_review)]
    if args.log:
        extra += ["--log", str(Path(args.log).resolve())]
    # no usage statistics sent to Streamlit: nothing leaves the machine at run time
    return subprocess.call([sys.executable, "-m", "streamlit", "run", str(app),
                            "--server.port", str(args.port), "--server.address", args.address,
                            "--browser.gatherUsageStats", "false", "--",
                            *[str(Path(p).resolve()) for p in args.results], *extra])


def _decisions(args) -> int:
    from annotations.decisions import DEFAULT_LOG, DecisionLog
    from annotations.exchange import (TRAINING_OUT, export_prodigy, export_training,
                                      import_prodigy)

    log = DecisionLog(Path(args.log) if args.log else DEFAULT_LOG)
    if args.action == "import":
        if not args.input:
            raise ScreenError("decisions import needs --input FILE (Prodigy-style JSONL)")
        # tasks naming no annotator are refused (one warning each) unless --reviewer is given
        report = import_prodigy(Path(args.input), log, results=args.results or None,
                                reviewer=args.reviewer or None)
        what = f"appended {report.written} decisions to {log.path}"
    else:
        if args.action == "export" and not args.output:
            raise ScreenError("decisions export needs -o FILE")
        if args.action == "training" and not args.results:
            raise ScreenError("decisions training needs the results files the decisions "
                              "are about (their text becomes the training examples)")
        if not log.path.exists():
            raise ScreenError("no decision log", str(log.path),
                              "review documents first (`sanctuary-screen review`), or give --log")
        state = log.state()
        for problem in log.read()[1]:
            print(f"Warning: {log.path}:{problem.line}: {problem.message}", file=sys.stderr)
        if args.action == "export":
            report = export_prodigy(state, Path(args.output), results=args.results or None,
                                    final=args.final)
        else:
            report = export_training(state, args.results, Path(args.output or TRAINING_OUT))
        what = f"wrote {report.written} lines to {args.output or TRAINING_OUT}"
    print(f"Decisions {args.action}: {what}"
          + "".join(f"; skipped {n} ({why})" for why, n in sorted(report.skipped.items())))
    for problem in report.problems:       # results-file problems name their file and line
        where = "" if problem.message.startswith("results file ") else \
            f"{args.input}:{problem.line}: " if args.action == "import" else \
            f"line {problem.line}: "
        print(f"Warning: {where}{problem.message}", file=sys.stderr)
    for conflict in report.conflicts[:20]:
        print(f"Conflict: {json.dumps(conflict, ensure_ascii=False)}", file=sys.stderr)
    return 0


COMMANDS = {"classify": _classify, "train": _train, "evaluate": _evaluate, "summary": _summary,
            "vendors": _vendors, "review": _review, "decisions": _decisions}

if __name__ == "__main__":
    sys.exit(main())
