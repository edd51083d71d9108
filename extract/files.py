"""Writing a whole file so that readers see the old file or the new one, never half.

The bytes go to a temporary file of their own (``mkstemp`` in the same folder, so
two writers, threads or processes, never share one), are fsync'd, and the
temporary file is renamed over ``out``. On failure it is removed and ``out`` is
as it was. Used for the vendor list, exports, the compiled scorer and the review
app's caches.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_whole(out: Path, data: bytes) -> None:
    """Replace ``out`` with ``data`` atomically; raises OSError. The new file keeps
    the old one's permissions (0644 for a new file: mkstemp would make it 0600)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with open(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            mode = os.stat(out).st_mode & 0o777
        except OSError:
            mode = 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
