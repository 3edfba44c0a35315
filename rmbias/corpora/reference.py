"""Obtain a published reference file by URL or from a local mirror, verified by sha256.

A file becomes an output only after its checksum matched: it is downloaded (or copied) to a
temporary file beside the destination, hashed, and renamed into place; on any failure the
temporary file is removed and nothing is left at the destination.
"""

from __future__ import annotations

import hashlib
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from rmbias.io import InputError, atomic_path

MIRROR_HINT = "set `reference_mirror` in the config (or --config reference_mirror=DIR) to a directory holding a copy"


def sha256_of(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 digest of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_reference_file(
    rel_path: str,
    dest: str | Path,
    sha256: str,
    base_url: str,
    mirror: str | Path | None = None,
    timeout_s: float = 60.0,
) -> str:
    """Fetch ``rel_path`` to ``dest`` and verify its sha256; return where it came from.

    With ``mirror`` set, the file is copied from ``mirror/rel_path``; otherwise downloaded from
    ``base_url/rel_path``. Raises :class:`InputError` (one line, naming the file) when the mirror
    lacks the file, the URL cannot be reached, or the checksum does not match.
    """
    dest = Path(dest)
    with atomic_path(dest) as tmp:
        if mirror is not None:
            source = Path(mirror) / rel_path
            if not source.is_file():
                raise InputError(f"{rel_path}: not found in reference_mirror {mirror} (expected {source})")
            shutil.copyfile(source, tmp)
            origin = str(source)
        else:
            origin = f"{base_url.rstrip('/')}/{rel_path}"
            try:
                with urllib.request.urlopen(origin, timeout=timeout_s) as response, open(tmp, "wb") as out:
                    shutil.copyfileobj(response, out)
            except (urllib.error.URLError, OSError, ValueError) as err:
                reason = getattr(err, "reason", err)
                raise InputError(f"{rel_path}: cannot download {origin} ({reason}); {MIRROR_HINT}") from err
        actual = sha256_of(tmp)
        if actual != sha256:
            raise InputError(
                f"{rel_path}: sha256 mismatch (expected {sha256}, got {actual}) from {origin}; {MIRROR_HINT} of the pinned release"
            )
    return origin
