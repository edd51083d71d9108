"""Who is reviewing what right now: short-lived claims shared by all server processes.

An item (``item_key = f"{doc_id}|{label}"``) claimed by one reviewer is not
served to another until the claim is released or expires (``ttl`` seconds
after it was last made; claiming again refreshes it). Claims are ephemeral, so
they live in a small JSON file that is read and rewritten whole under
``fcntl.flock``; that is fine here and never done to the decision log. A file
left unreadable by a crash counts as "no claims".
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

DEFAULT_TTL = 300.0


def item_key(doc_id: str, label: str) -> str:
    return f"{doc_id}|{label}"


class Claims:
    """``Claims(path, ttl)``; ``now`` is the clock (seconds, shared by all processes)."""

    def __init__(self, path: Path, ttl: float = DEFAULT_TTL,
                 now: Callable[[], float] = time.time):
        self.path = Path(path)
        self.ttl = float(ttl)
        self.now = now

    # ------------------------------------------------------------ public
    def claim(self, item_key: str, reviewer: str) -> bool:
        """Take or refresh the claim; False when another reviewer holds it unexpired."""
        with self._locked(write=True) as claims:
            held = claims.get(item_key)
            if held is not None and held["reviewer"] != reviewer:
                return False
            claims[item_key] = {"reviewer": reviewer, "expires": self.now() + self.ttl}
            return True

    def release(self, item_key: str, reviewer: str) -> None:
        """Drop the reviewer's claim on the item (another reviewer's claim stays)."""
        with self._locked(write=True) as claims:
            held = claims.get(item_key)
            if held is not None and held["reviewer"] == reviewer:
                del claims[item_key]

    def release_all(self, reviewer: str) -> None:
        """Drop every claim the reviewer holds (end of a session)."""
        with self._locked(write=True) as claims:
            for key in [k for k, v in claims.items() if v["reviewer"] == reviewer]:
                del claims[key]

    def holder(self, item_key: str) -> str | None:
        with self._locked(write=False) as claims:
            held = claims.get(item_key)
            return held["reviewer"] if held is not None else None

    def held_by_others(self, reviewer: str) -> set[str]:
        """Item keys other reviewers hold unexpired claims on."""
        with self._locked(write=False) as claims:
            return {k for k, v in claims.items() if v["reviewer"] != reviewer}

    def active(self) -> dict[str, str]:
        """item_key -> reviewer for every unexpired claim."""
        with self._locked(write=False) as claims:
            return {k: v["reviewer"] for k, v in claims.items()}

    # ------------------------------------------------------------ file
    @contextmanager
    def _locked(self, write: bool):
        """The unexpired claims, read under a lock; written back on exit when ``write``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
            claims = self._load(fd)
            yield claims
            if write:
                data = json.dumps(claims, ensure_ascii=False, sort_keys=True).encode("utf-8")
                os.ftruncate(fd, 0)
                os.pwrite(fd, data, 0)
        finally:
            os.close(fd)            # closing releases the lock

    def _load(self, fd: int) -> dict[str, dict]:
        size = os.fstat(fd).st_size
        raw = os.pread(fd, size, 0) if size else b""
        try:
            data = json.loads(raw) if raw.strip() else {}
        except (ValueError, RecursionError):  # decode errors, JSON errors, 4,300-digit ints
            return {}               # torn by a crash: claims are ephemeral
        if not isinstance(data, dict):
            return {}
        now = self.now()
        return {k: v for k, v in data.items()
                if isinstance(v, dict) and isinstance(v.get("reviewer"), str)
                and isinstance(v.get("expires"), (int, float)) and v["expires"] > now}
