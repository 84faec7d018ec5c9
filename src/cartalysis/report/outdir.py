"""A safe ``--out`` folder: the report is written in a temporary sibling folder and moved into place when complete.

Rules (tested in ``tests/report/test_outdir.py``):

- never through a symbolic link: ``--out`` itself may not be a link, and a link planted inside an earlier
  report is moved aside as a link (never followed, never written through);
- never inside the study folder (nor the study folder itself): the inputs are only ever read;
- all files are written into ``.<name>.partial-XXXX`` beside ``--out``; only when every file is written is it
  moved into place, so a crash (an exception, a full disk) leaves the previous report as it was;
- ``--out`` must be new, empty, or a report this tool wrote (it holds ``manifest.json``); any other non-empty
  folder is refused unless ``--force``;
- the previous run's files (those listed in its manifest) are removed, so no stale table or figure survives
  beside the new ones; files cartalysis does not own are never touched (``demo`` keeps its ``study/`` there).

``manifest.json`` lists every file of the report with its SHA-256 (sorted, so identical reports give identical
manifests).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cartalysis.study.errors import UsageError

MANIFEST = "manifest.json"
_GENERATOR = "cartalysis report"


def check_target(out: Path, study: Path | None, force: bool) -> None:
    """Raise ``UsageError`` when the report may not be written to ``out`` (see the module docstring)."""
    if out.is_symlink():
        raise UsageError(f"--out {out} is a symbolic link; cartalysis never writes through one: give a real folder")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    if study is not None and study.is_dir():
        s, o = study.resolve(), out.resolve()
        if o == s or s in o.parents:
            raise UsageError(f"--out {out} is inside the study folder {study}; the inputs are never written to: "
                             "choose a folder outside the study")
    if out.is_dir() and not force and any(out.iterdir()) and owned(out) is None:
        raise UsageError(f"--out {out} is not empty and was not written by cartalysis (no {MANIFEST}); choose a new "
                         "or empty folder, or give --force to replace the report files in it")


def owned(out: Path) -> set[str] | None:
    """The top-level names listed in ``out``'s manifest; ``None`` when there is no readable cartalysis manifest."""
    m = out / MANIFEST
    if m.is_symlink() or not m.is_file():
        return None
    try:
        data = json.loads(m.read_text(encoding="utf-8"))
        files = data["files"] if data.get("generator") == _GENERATOR else None
        names = {Path(f["path"]).parts[0] for f in files}
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    return names | {MANIFEST}


def write_manifest(stage: Path) -> None:
    """``manifest.json``: every file under ``stage`` (relative path, size, SHA-256), sorted by path."""
    files = []
    for p in sorted(stage.rglob("*")):
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes()
            files.append({"path": p.relative_to(stage).as_posix(), "bytes": len(data),
                          "sha256": hashlib.sha256(data).hexdigest()})
    text = json.dumps({"generator": _GENERATOR, "files": files}, indent=1, ensure_ascii=False) + "\n"
    (stage / MANIFEST).write_text(text, encoding="utf-8")


@contextlib.contextmanager
def staged(out: Path, study: Path | None = None, force: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``out``; on success install its content as ``out``, else delete it."""
    check_target(out, study, force)
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=parent))
    except OSError as e:
        raise UsageError(f"cannot create output folder {out}: {e.strerror or e}") from None
    try:
        yield stage
        write_manifest(stage)
        _install(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _install(stage: Path, out: Path) -> None:
    """Move the finished report into ``out``: one rename when ``out`` is new or empty; otherwise the previous run's
    entries (and, under ``--force``, entries the new report replaces) are moved aside, the new ones moved in."""
    try:
        if not out.exists():
            os.rename(stage, out)
            return
        if not any(out.iterdir()):
            out.rmdir()
            os.rename(stage, out)
            return
        old = owned(out) or set()
        new = {p.name for p in stage.iterdir()}
        trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.absolute().parent))
        try:
            for name in sorted(old | new):
                target = out / name
                if target.exists() or target.is_symlink():  # a link is moved as a link, never followed
                    os.rename(target, trash / name)
            for name in sorted(new):
                os.rename(stage / name, out / name)
        finally:
            shutil.rmtree(trash, ignore_errors=True)
    except OSError as e:
        raise UsageError(f"cannot write the report into {out}: {e.strerror or e}") from None
