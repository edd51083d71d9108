"""PDF pages for the item view: safe paths, page images with evidence boxes, page text.

Only files under the data root are opened: a path is resolved (symlinks
followed) and refused unless the real file lies under the real root, so
neither ``../`` nor a symlink can reach outside it. Pages are rendered by
pdfium in a child process with a memory and time limit (a hostile PDF costs one
error, not the server), then cached on disk as PNG; boxes are drawn on a copy.
Each render writes its own temporary file (sessions are threads of one process,
so the pid alone is not unique) and a page another session already produced
counts as rendered. The PNG records the page size in points, so boxes land in
the right place even when a very large page was rendered at a lower scale.

    root = DataRoot(Path("../shared/data"))
    pdf = root.resolve("../shared/data/pdfs/dhs/x.pdf")
    png = page_image(pdf, 2, boxes=[[108, 153, 540, 165]], cache=Path("~/.cache/..."))
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import uuid
from pathlib import Path

from extract.errors import InputError
from extract.files import write_whole

SCALE = 1.5            # 108 dpi: readable, about 0.3 MB a page
MAX_PIXELS = 25_000_000
RENDER_SECONDS = 60
RENDER_MEMORY_MB = 1024
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) \
    / "sanctuary-screen" / "pages"


class OutsideRoot(InputError):
    """A file outside the configured data root was asked for."""


class DataRoot:
    """The folder the app may open files from."""

    def __init__(self, root: Path):
        self.root = Path(root).expanduser().resolve()

    def resolve(self, path: str | Path, bases: list[Path] = ()) -> Path:
        """The real path of ``path`` (absolute, or relative to the working directory,
        the root or one of ``bases``), refused when it lies outside the root."""
        p = Path(str(path))     # a results line is not a shell: no "~" expansion
        candidates = [p] if p.is_absolute() else [Path.cwd() / p, self.root / p] + \
            [Path(b) / p for b in bases]
        outside = None
        for cand in candidates:
            try:
                if not (cand.exists() or cand.is_symlink()):
                    continue
                real = cand.resolve()
            except (OSError, RuntimeError, ValueError):  # too long, a symlink loop, a NUL
                continue
            if not real.is_relative_to(self.root):
                outside = real
                continue
            if real.is_file():
                return real
        if outside is not None:
            raise OutsideRoot("file outside the data root", str(path),
                              f"only files under {self.root} can be opened; start the app "
                              "with --data-root set to the folder holding your documents")
        raise InputError("file not found", str(path),
                         f"looked in the working directory and under {self.root}")


CACHE_VERSION = 2       # 2: PNGs carry the page size in points ("points" text chunk)


def _file_id(path: Path, page: int, scale: float) -> str:
    st = path.stat()
    raw = f"{path}|{st.st_mtime_ns}|{st.st_size}|{page}|{scale}|v{CACHE_VERSION}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _tmp(out: Path) -> Path:
    """A temporary name next to ``out`` that no other thread or process uses."""
    return out.with_name(f"{out.name}.{uuid.uuid4().hex}.tmp")


def render_png(path: Path, page: int, scale: float = SCALE, cache: Path = DEFAULT_CACHE) -> Path:
    """The PNG of 1-based ``page`` of ``path`` (already checked by DataRoot),
    rendered once in a limited child process and then read from ``cache``."""
    out = Path(cache) / f"{_file_id(path, page, scale)}.png"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(out)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "review.pages", str(path), str(page), str(scale), str(tmp)],
            capture_output=True, text=True, timeout=RENDER_SECONDS,
            cwd=str(Path(__file__).resolve().parents[1]))
    except subprocess.TimeoutExpired as exc:
        tmp.unlink(missing_ok=True)
        if out.is_file():           # another session rendered it meanwhile
            return out
        raise InputError(f"rendering page {page} took over {RENDER_SECONDS} s", str(path)) \
            from exc
    if proc.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        if out.is_file():           # another session rendered it meanwhile
            return out
        why = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise InputError(f"cannot render page {page}", str(path), why[:300])
    os.replace(tmp, out)
    return out


def draw_boxes(png: bytes | Path, boxes: list, scale: float = SCALE,
               color: str = "#e8590c") -> bytes:
    """The page image with each box [x0, top, x1, bottom] (PDF points, top-left
    origin) outlined; PNG bytes. The scale is the image's own (pixels per point,
    from the page size the render recorded) when it has one, else ``scale``."""
    from PIL import Image, ImageDraw

    data = Path(png).read_bytes() if isinstance(png, Path) else png
    with Image.open(io.BytesIO(data)) as img:
        scale = image_scale(img.width, img.info.get("points"), scale)
        img = img.convert("RGB")
        draw = ImageDraw.Draw(img, "RGBA")
        for box in boxes or ():
            try:
                x0, top, x1, bottom = (float(v) * scale for v in box[:4])
                x0, x1 = sorted((x0, x1))
                top, bottom = sorted((top, bottom))
                draw.rectangle([x0 - 2, top - 2, x1 + 2, bottom + 2], outline=color, width=3,
                               fill=(255, 212, 59, 60))
            except (TypeError, ValueError, OverflowError):
                continue
        buf = io.BytesIO()
        img.save(buf, format="PNG")
    return buf.getvalue()


def image_scale(width_px: int, points, default: float = SCALE) -> float:
    """Pixels per PDF point of an image ``width_px`` wide showing a page whose size the
    render recorded as ``points`` ("width height"); ``default`` when unrecorded."""
    try:
        page_width = float(str(points).split()[0])
    except (IndexError, ValueError):
        return default
    return width_px / page_width if page_width > 0 else default


def page_image(path: Path, page: int, boxes: list = (), scale: float = SCALE,
               cache: Path = DEFAULT_CACHE) -> bytes:
    """PNG bytes of a page with ``boxes`` drawn (rendered on demand, cached on disk)."""
    png = render_png(path, page, scale, cache)
    return draw_boxes(png, list(boxes), scale) if boxes else png.read_bytes()


def page_texts(path: Path, cache: Path = DEFAULT_CACHE) -> dict[int, str]:
    """Text layer of every page (1-based), as the pipeline read it without OCR;
    parsed in the sandboxed parser once, then cached on disk as JSON."""
    from extract.pdf import iter_pages

    out = Path(cache) / f"{_file_id(path, 0, 0)}.text.json"
    if out.is_file():
        try:
            return {int(k): v for k, v in json.loads(out.read_text(encoding="utf-8")).items()}
        except (OSError, json.JSONDecodeError, ValueError):
            pass
    texts = {p.number: p.text for p in iter_pages(path, ocr="never")}
    write_whole(out, json.dumps(texts).encode("utf-8"))
    return texts


def _child(path: str, page: int, scale: float, out: str) -> None:
    limit = RENDER_MEMORY_MB * 2**20  # set here, not in preexec_fn (unsafe under threads)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import pypdfium2 as pdfium
    from PIL.PngImagePlugin import PngInfo

    pdf = pdfium.PdfDocument(path)
    try:
        if not 1 <= page <= len(pdf):
            raise SystemExit(f"page {page} not in 1..{len(pdf)}")
        pg = pdf[page - 1]
        w, h = pg.get_size()
        scale = min(scale, (MAX_PIXELS / max(1.0, w * h)) ** 0.5)
        info = PngInfo()
        info.add_text("points", f"{w} {h}")       # draw_boxes scales boxes by this
        pg.render(scale=scale).to_pil().save(out, format="PNG", pnginfo=info)
    finally:
        pdf.close()


if __name__ == "__main__":  # the render child: python -m review.pages PATH PAGE SCALE OUT
    _child(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4])
