"""Content hashes of local files, remembered so each file is read once while it is unchanged.

Size and mtime can say "unchanged" of a file that changed: ``cp -p`` and ``rsync -a`` restore
the mtime, and a rewrite within the clock's resolution keeps it. A local input's cache key
therefore hashes its bytes. The hash is remembered under the file's (inode, size, mtime_ns,
ctime_ns): a process cannot set ctime, so any rewrite or metadata restore makes the file be read
again, while a run over unchanged inputs reads none of them. The memo is one JSON file in the
base path's ``.glacier/``; losing it (or a concurrent run's write) only costs a re-read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

MEMO_NAME = "content-hashes.json"
MEMO_VERSION = 1
_CHUNK = 1 << 20


class ContentHashes:
    """File path -> sha256 of its bytes, with the stat it was computed for."""

    def __init__(self, memo: Path) -> None:
        self.memo = memo
        self._entries = self._load()
        self._changed = False

    def digest(self, path: Path) -> str:
        st = path.stat()
        stamp = [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        entry = self._entries.get(str(path))
        if entry is not None and entry[0] == stamp:
            return str(entry[1])
        digest = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
        hexdigest = digest.hexdigest()
        self._entries[str(path)] = (stamp, hexdigest)
        self._changed = True
        return hexdigest

    def save(self) -> None:
        """Write the memo atomically if anything new was hashed; a read-only folder is fine."""
        if not self._changed:
            return
        data = {"version": MEMO_VERSION, "files": {k: list(v) for k, v in self._entries.items()}}
        tmp = self.memo.with_name(f"{self.memo.name}.{os.getpid()}.tmp")
        with contextlib.suppress(OSError):  # the memo saves work, nothing depends on it
            self.memo.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(data))
            tmp.replace(self.memo)
            self._changed = False

    def _load(self) -> dict[str, tuple[list[int], str]]:
        try:
            data = json.loads(self.memo.read_text())
            files = data["files"] if data.get("version") == MEMO_VERSION else {}
            return {
                str(k): (list(stamp), str(h))
                for k, (stamp, h) in files.items()
                if isinstance(h, str) and isinstance(stamp, list)
            }
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return {}  # no memo yet, or an unreadable one: start afresh
