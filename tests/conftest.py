"""Shared fixtures: paths, the shipped model, the real data (skipped when absent)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIXTURES = ROOT / "tests" / "fixtures"
SHARED = ROOT.parent / "shared" / "data"
API_SAMPLE = FIXTURES / "awards_api_sample.csv"

import os  # noqa: E402

if os.environ.get("SANCTUARY_REQUIRE_SHARED", "0") not in ("", "0") and not SHARED.is_dir():
    # CI sets this: there a missing ../shared must fail, not skip every real-data test
    raise pytest.UsageError(f"SANCTUARY_REQUIRE_SHARED is set but {SHARED} is not there")

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(),
    reason=f"real data not found at {SHARED} (a user's clone has no ../shared; CI has it, "
           "and fails without it)")


@pytest.fixture(scope="session")
def pipeline_model():
    from models import store
    return store.load(store.DEFAULT_MODEL)


@pytest.fixture(scope="session")
def scorer(pipeline_model):
    from models.scorer import Scorer
    return Scorer(pipeline_model)


@pytest.fixture
def bad_inputs(tmp_path) -> dict[str, Path]:
    """Broken award files, built here (nothing downloaded)."""
    header = API_SAMPLE.read_text(encoding="utf-8").splitlines()[0]
    first = API_SAMPLE.read_text(encoding="utf-8").splitlines()[1]
    files = {
        "empty": tmp_path / "empty.csv",
        "binary": tmp_path / "scan.csv",
        "not_csv": tmp_path / "notes.csv",
        "missing_columns": tmp_path / "missing.csv",
        "malformed_row": tmp_path / "malformed.csv",
        "wrong_encoding": tmp_path / "latin1.csv",
    }
    files["empty"].write_bytes(b"")
    files["binary"].write_bytes(b"%PDF-1.7\n\x00\x01\x02\xff" * 50)
    files["not_csv"].write_text("Dear records officer,\nplease find attached...\n", encoding="utf-8")
    cols = header.split(",")
    files["missing_columns"].write_text(
        ",".join(c for c in cols if c not in ("Recipient Name", "Action Date")) + "\n",
        encoding="utf-8")
    files["malformed_row"].write_text(
        f"{header}\n{first}\nCBP,ONLY,THREE FIELDS\n{first}\n", encoding="utf-8")
    latin = first.replace("THE", "DÉTENTION CAFÉ", 1)
    files["wrong_encoding"].write_bytes(
        f"{header}\n{first}\n".encode("utf-8") + f"{latin}\n".encode("cp1252"))
    return files
