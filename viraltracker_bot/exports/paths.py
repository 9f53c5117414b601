"""Safe, unique export file names that can never land outside the export directory."""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

MAX_STEM_CHARS = 60
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_DOT_RUNS = re.compile(r"\.{2,}")


def sanitise_name(name: str, default: str = "export") -> str:
    """Reduce a user- or model-supplied name to [A-Za-z0-9._-], short, with no path meaning.

    Separators and '..' are flattened rather than rejected so '../../etc/passwd' still exports
    (as 'etc_passwd...') instead of failing a chat request over a cosmetic name.
    """
    stem = _UNSAFE.sub("_", name or "")
    stem = _DOT_RUNS.sub(".", stem).strip("._-")
    return stem[:MAX_STEM_CHARS].rstrip("._-") or default


EXPORT_NAME = re.compile(r"^[A-Za-z0-9._-]+_\d{8}T\d{6}Z_[0-9a-f]{6}\.[a-z0-9._-]+$")
"""Every name `_candidate` makes, `<stem>_<UTC stamp>_<6 hex>.<ext>`: what retention may delete."""


def _candidate(export_dir: Path, stem: str, ext: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return export_dir / f"{stem}_{stamp}_{secrets.token_hex(3)}.{ext}"


def _write_exclusive(export_dir: Path, name: str, ext: str, data: bytes) -> Path:
    root = export_dir.expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    stem = sanitise_name(name)
    for _ in range(20):
        path = _candidate(root, stem, ext)
        if (
            path.resolve().parent != root
        ):  # defence in depth: sanitising should make this impossible
            raise ValueError(f"Export name {name!r} escapes the export directory")
        try:
            # 'xb' (O_EXCL) never follows or overwrites an existing file or symlink.
            with path.open("xb") as fh:
                fh.write(data)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"Could not find a free export file name for {stem!r} in {root}")


async def write_export(export_dir: Path, name: str, ext: str, data: bytes) -> Path:
    """Write `data` to a new `<name>_<UTC stamp>_<random>.<ext>` in export_dir, off the loop."""
    ext = sanitise_name(ext, default="bin").lower()
    return await asyncio.to_thread(_write_exclusive, Path(export_dir), name, ext, data)
