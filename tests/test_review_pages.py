"""review.pages: the data root is enforced; page images are rendered, boxed and cached."""
from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from PIL import Image

from extract.errors import InputError
from review.pages import (DataRoot, OutsideRoot, draw_boxes, image_scale, page_image, page_texts,
                          render_png)
from tests.conftest import SHARED, needs_shared

PIA = SHARED / "pdfs" / "dhs" / "dhs_pia_039_jan2018.pdf"
BOX = [108.0, 153.68, 539.98, 165.68]   # the first evidence line on page 2 of PIA


def test_files_outside_the_root_are_refused(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    (root / "a.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    secret = tmp_path / "secret.pdf"
    secret.write_bytes(b"%PDF-1.4\n%%EOF\n")
    data = DataRoot(root)
    assert data.resolve(root / "a.pdf") == (root / "a.pdf").resolve()
    assert data.resolve("a.pdf") == (root / "a.pdf").resolve()          # relative to the root
    with pytest.raises(OutsideRoot, match="outside the data root"):
        data.resolve(secret)
    with pytest.raises(OutsideRoot):
        data.resolve("../secret.pdf")
    with pytest.raises(OutsideRoot):
        data.resolve("/etc/passwd")
    with pytest.raises(InputError, match="file not found"):
        data.resolve("missing.pdf")


def test_symlink_escaping_the_root_is_refused(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    secret = tmp_path / "secret.pdf"
    secret.write_bytes(b"%PDF-1.4\n%%EOF\n")
    os.symlink(secret, root / "link.pdf")
    os.symlink(tmp_path, root / "up")
    with pytest.raises(OutsideRoot):
        DataRoot(root).resolve(root / "link.pdf")
    with pytest.raises(OutsideRoot):
        DataRoot(root).resolve("up/secret.pdf")
    inside = root / "real.pdf"
    inside.write_bytes(b"%PDF-1.4\n%%EOF\n")
    os.symlink(inside, root / "ok.pdf")
    assert DataRoot(root).resolve("ok.pdf") == inside.resolve()


def test_draw_boxes_outlines_the_box_in_pixels():
    buf = io.BytesIO()
    Image.new("RGB", (200, 100), "white").save(buf, format="PNG")
    out = Image.open(io.BytesIO(draw_boxes(buf.getvalue(), [[10, 10, 50, 30]], scale=2.0)))
    assert out.size == (200, 100)
    assert out.getpixel((18, 40))[2] < 100          # orange outline at x0*2-2 .. y
    assert out.getpixel((150, 90)) == (255, 255, 255)


@needs_shared
def test_page_image_is_rendered_once_and_cached(tmp_path):
    pdf = DataRoot(SHARED).resolve(PIA)
    start = time.perf_counter()
    png = page_image(pdf, 2, [BOX], cache=tmp_path)
    first = time.perf_counter() - start
    start = time.perf_counter()
    again = page_image(pdf, 2, [BOX], cache=tmp_path)
    cached = time.perf_counter() - start
    assert png == again and cached < first
    assert len(list(tmp_path.glob("*.png"))) == 1
    img = Image.open(io.BytesIO(png))
    assert img.size == (918, 1188)                  # 612 x 792 points at scale 1.5
    x, y = int(BOX[0] * 1.5) - 1, int((BOX[1] + BOX[3]) / 2 * 1.5)
    r, g, b = img.getpixel((x, y))[:3]
    assert r > 200 and b < 100                      # the box outline


@needs_shared
def test_bad_page_and_not_a_pdf_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="cannot render page 99"):
        render_png(PIA, 99, cache=tmp_path)
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"<html>login</html>")
    with pytest.raises(InputError, match="cannot render page 1"):
        render_png(fake, 1, cache=tmp_path)


@needs_shared
def test_page_texts_hold_the_evidence_offsets(tmp_path):
    texts = page_texts(PIA, cache=tmp_path)
    assert len(texts) == 19
    assert texts[2][138:].startswith("Enforcement (ICE) has procured query-based access")
    assert page_texts(PIA, cache=tmp_path) == texts      # from the JSON cache


def _png(size, points=None) -> bytes:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    if points:
        info.add_text("points", points)
    buf = io.BytesIO()
    Image.new("RGB", size, "white").save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def test_boxes_follow_the_scale_the_page_was_rendered_at():
    """Finding 15: a very large page is rendered below the requested scale (MAX_PIXELS);
    its boxes must be placed by the image's own scale, not the requested one."""
    png = _png((200, 100), points="400 200")            # rendered at 0.5, not 1.5
    out = Image.open(io.BytesIO(draw_boxes(png, [[100, 60, 300, 120]], scale=1.5)))
    assert out.getpixel((48, 45))[2] < 100                # x0 * 0.5 - 2, inside the box
    assert out.getpixel((150, 40)) != (255, 255, 255)     # filled inside the box
    assert out.getpixel((190, 95)) == (255, 255, 255)     # at 1.5 this would be boxed
    assert image_scale(200, "400 200") == 0.5 and image_scale(200, None, 1.5) == 1.5
    assert image_scale(200, "garbage", 2.0) == 2.0 and image_scale(200, "0 0", 2.0) == 2.0


def _fake_render(calls, behave):
    class Proc:
        returncode, stderr = 0, ""

    def run(cmd, **kwargs):
        tmp = cmd[-1]
        calls.append(tmp)
        behave(tmp, len(calls))
        return Proc()
    return run


def test_concurrent_renders_of_one_page_use_their_own_temp_files(tmp_path, monkeypatch):
    """Finding 7: sessions are threads of one process; while one render runs, another
    session renders the same page. Each needs its own temporary file, and both succeed."""
    import review.pages as pages

    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    calls = []

    def behave(tmp, n):
        Path(tmp).write_bytes(_png((10, 10), "5 5"))
        if n == 1:                                   # the other session, meanwhile
            assert render_png(pdf, 1, cache=tmp_path / "c").is_file()

    monkeypatch.setattr(pages.subprocess, "run", _fake_render(calls, behave))
    out = render_png(pdf, 1, cache=tmp_path / "c")
    assert out.is_file() and len(calls) == 2 and calls[0] != calls[1]
    assert not list((tmp_path / "c").glob("*.tmp"))


def test_a_page_another_session_produced_counts_as_rendered(tmp_path, monkeypatch):
    import review.pages as pages

    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    out = tmp_path / "c" / f"{pages._file_id(pdf, 1, pages.SCALE)}.png"

    class Failed:
        returncode, stderr = 1, "lost the race"

    def run(cmd, **kwargs):                          # our child failed, the other's won
        out.write_bytes(_png((10, 10), "5 5"))
        return Failed()

    monkeypatch.setattr(pages.subprocess, "run", run)
    assert render_png(pdf, 1, cache=tmp_path / "c") == out


@needs_shared
def test_rendered_page_records_its_size_in_points(tmp_path):
    png = render_png(DataRoot(SHARED).resolve(PIA), 2, cache=tmp_path)
    with Image.open(png) as img:
        assert [float(x) for x in img.info["points"].split()] == [612.0, 792.0]
