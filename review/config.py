"""The review app's settings, from the arguments after ``streamlit run app.py --``.

    streamlit run app.py -- results/a.jsonl results/b.jsonl --log annotations/decisions.jsonl \\
        --data-root ../shared/data --double-review 0.1
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from extract.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LOG = ROOT / "annotations" / "decisions.jsonl"


@dataclass
class ReviewConfig:
    results: list[Path] = field(default_factory=list)
    log: Path = DEFAULT_LOG
    data_root: Path = field(default_factory=Path.cwd)
    double_review: float = 0.0        # share of items sent to a second reviewer, blind
    claim_ttl: float = 300.0          # seconds a served item stays reserved for its reviewer
    cache: Path | None = None         # page image cache (default ~/.cache/sanctuary-screen)

    @property
    def claims_path(self) -> Path:
        return self.log.with_name(self.log.stem + ".claims.json")

    def to_dict(self) -> dict:
        return {"results": [str(p) for p in self.results], "log": str(self.log),
                "data_root": str(self.data_root), "double_review": self.double_review,
                "claim_ttl": self.claim_ttl, "cache": str(self.cache) if self.cache else None}

    @classmethod
    def from_dict(cls, d: dict) -> "ReviewConfig":
        return cls(results=[Path(p) for p in d.get("results", [])],
                   log=Path(d.get("log", DEFAULT_LOG)),
                   data_root=Path(d.get("data_root") or Path.cwd()),
                   double_review=float(d.get("double_review", 0.0)),
                   claim_ttl=float(d.get("claim_ttl", 300.0)),
                   cache=Path(d["cache"]) if d.get("cache") else None)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="app.py", add_help=False)
    p.add_argument("results", nargs="*", help="results files (JSONL)")
    p.add_argument("--log", default=str(DEFAULT_LOG), help="decision log (JSONL)")
    p.add_argument("--data-root", default=".", help="only files under this folder are opened")
    p.add_argument("--double-review", type=float, default=0.0, metavar="SHARE",
                   help="share of items (0-1) reviewed blind by a second reviewer")
    p.add_argument("--claim-ttl", type=float, default=300.0, help="seconds a claim lasts")
    p.add_argument("--cache", help="folder for rendered page images")
    return p


def parse(argv: list[str]) -> ReviewConfig:
    """Settings from ``argv``; InputError for a value a user must fix."""
    args, _unknown = parser().parse_known_args(argv)
    if not 0.0 <= args.double_review <= 1.0:
        raise InputError(f"--double-review {args.double_review} is not a share between 0 and 1")
    return ReviewConfig(results=[Path(p) for p in args.results], log=Path(args.log),
                        data_root=Path(args.data_root), double_review=args.double_review,
                        claim_ttl=args.claim_ttl, cache=Path(args.cache) if args.cache else None)
