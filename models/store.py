"""Save and load the model with skops (never pickle), and write its model card.

Loading checks every type in the file against an allow-list: scikit-learn and
numpy types that skops trusts by default plus this project's own estimator.
A file that asks for anything else is refused with a ModelError. skops (and
with it scikit-learn) is imported only when a model is saved or loaded, so
that importing this module for its paths is cheap.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

from extract.errors import ModelError

MODEL_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL = MODEL_DIR / "sanctuary.skops"
TRUSTED = frozenset({
    "models.classifier.MultiLabelLinear",
    "models.concepts.ConceptCounts",
})


def save(pipeline, path: Path = DEFAULT_MODEL) -> str:
    """Write ``pipeline`` to ``path``; returns the file's sha256."""
    import skops.io as sio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Deflate: the vocabularies are verbose JSON inside the archive (40 MB -> 1.6 MB).
    data = sio.dumps(pipeline, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def load(path: Path = DEFAULT_MODEL):
    """The fitted pipeline in ``path``, after checking the types it contains."""
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError("cannot read model", str(path),
                         "train one with `sanctuary-screen train`") from exc
    # One pass over the archive: skops audits every type against its defaults plus
    # TRUSTED before it constructs anything, and names the types it refuses.
    try:
        return sio.loads(data, trusted=sorted(TRUSTED))
    except UntrustedTypesFoundException as exc:
        raise ModelError("model file contains untrusted types", str(path),
                         str(exc).splitlines()[0]) from exc
    except zipfile.BadZipFile as exc:
        raise ModelError("not a skops model file", str(path), str(exc)) from exc
    except Exception as exc:  # skops raises various errors on a corrupt archive
        raise ModelError("cannot load model", str(path), str(exc)) from exc


def card_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".card.json")


def read_card(model_path: Path = DEFAULT_MODEL) -> dict:
    path = card_path(model_path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError("cannot read model card", str(path), str(exc)) from exc
