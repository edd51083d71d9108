"""classify on Dask (``--scheduler``): the same lines as the process pool, byte for byte.

Skipped when dask.distributed (the ``dask`` extra) is not installed.
"""
from __future__ import annotations

import shutil

import pytest

import cli
import pipeline
from conftest import API_SAMPLE, FIXTURES
from extract.errors import ScreenError

distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install 'sanctuary-screen[dask]')")

HOSTILE = FIXTURES / "hostile"


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as lc:
        yield lc


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "dump"
    folder.mkdir()
    shutil.copy(API_SAMPLE, folder / "awards.csv")
    for name in ("text.pdf", "rotated.pdf", "corrupt.pdf", "html.pdf"):
        shutil.copy(HOSTILE / name, folder / name)
    return folder


def _models_on_workers(address):
    with distributed.Client(address) as client:
        return client.run(lambda: {p: id(c) for p, c in pipeline._DASK_MODELS.items()})


def test_dask_output_equals_the_process_pool_and_resumes(cluster, inputs, tmp_path):
    pool_out, dask_out = tmp_path / "pool.jsonl", tmp_path / "dask.jsonl"
    pooled = pipeline.run([inputs], pool_out, jobs=2, ocr="never")
    dasked = pipeline.run([inputs], dask_out, ocr="never", scheduler=cluster.scheduler_address)
    expected = pool_out.read_bytes()
    assert dask_out.read_bytes() == expected
    assert expected.count(b"\n") == 40 + 4
    assert (dasked.records, dasked.pages, dasked.failed_files) == \
        (pooled.records, pooled.pages, pooled.failed_files)
    assert len(dasked.failed_files) == 2 and dasked.pages == 3
    loaded = _models_on_workers(cluster.scheduler_address)
    assert sum(len(m) for m in loaded.values()) >= 1  # each worker that ran a task: one model

    # a run cut short: the first 10 lines and half of the 11th; resume on Dask
    lines = expected.split(b"\n")
    dask_out.write_bytes(b"\n".join(lines[:10]) + b"\n" + lines[10][:50])
    resumed = pipeline.run([inputs], dask_out, ocr="never", scheduler=cluster.scheduler_address)
    assert dask_out.read_bytes() == expected
    assert resumed.skipped == 10
    assert _models_on_workers(cluster.scheduler_address) == loaded  # not loaded again


def test_cli_scheduler_option(cluster, inputs, tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    code = cli.main(["classify", str(inputs / "text.pdf"), str(inputs / "html.pdf"), "-o",
                     str(out), "-q", "--ocr", "never", "--scheduler", cluster.scheduler_address])
    assert code == 1  # html.pdf is an error line
    rows = out.read_text(encoding="utf-8").splitlines()
    assert len(rows) == 2 and '"error": null' in rows[0] and '"NotPdf"' in rows[1]
    assert capsys.readouterr().err.startswith("Error: not a PDF but an HTML page")


@pytest.mark.parametrize("bad", ["local:0", "local:two"])
def test_bad_local_scheduler_is_refused_before_any_work(bad, inputs, tmp_path):
    with pytest.raises(ScreenError, match="bad scheduler"):
        pipeline.run([inputs], tmp_path / "r.jsonl", scheduler=bad)
    assert not (tmp_path / "r.jsonl").exists()


def test_force_keeps_old_results_when_the_scheduler_is_refused(inputs, tmp_path):
    """--force may throw old results away only once the run can actually start."""
    out = tmp_path / "r.jsonl"
    out.write_text('{"kept": true}\n', encoding="utf-8")
    with pytest.raises(ScreenError, match="bad scheduler"):
        pipeline.run([inputs], out, force=True, scheduler="local:0")
    assert out.read_text(encoding="utf-8") == '{"kept": true}\n'
