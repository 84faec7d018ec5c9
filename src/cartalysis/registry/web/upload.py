"""Safe reception of an uploaded study: a CSV folder as ``.zip`` or an ``.xlsx`` workbook, into a temp folder.

Limits (refused with one message each, before anything is imported): upload size ``MAX_UPLOAD_BYTES``;
for archives (a ``.xlsx`` is a zip too) at most ``MAX_MEMBERS`` members, total uncompressed size
``MAX_UNCOMPRESSED`` and compression ratio ``MAX_RATIO`` per member (zip bombs). Zip members are extracted by
this code, not ``ZipFile.extractall``: names that are absolute, contain ``..``, backslashes or drive letters,
symbolic links, and anything but ``.csv`` files (plus an ignored ``sap.toml``: the registry holds the plan) are
refused; extraction counts the bytes it actually writes, so a member whose header understates its size is
stopped at the limit too.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from cartalysis.registry.web.config import MAX_UPLOAD_BYTES
from cartalysis.study.errors import UsageError

MAX_MEMBERS = 200
MAX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_RATIO = 200
CHUNK = 1024 * 1024


def _member_name(info: zipfile.ZipInfo) -> PurePosixPath:
    name = info.filename
    path = PurePosixPath(name)
    if (name.startswith("/") or "\\" in name or ":" in name or any(p in ("..", "") for p in path.parts)
            or "\x00" in name):
        raise UsageError(f"archive member {name!r} has an unsafe path; use plain file names")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise UsageError(f"archive member {name!r} is a symbolic link; links are not accepted")
    return path


def check_archive(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The archive's members after the count, size, ratio and name checks (``UsageError`` on the first breach)."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise UsageError(f"the archive has {len(infos)} members; at most {MAX_MEMBERS} are accepted")
    total = 0
    for info in infos:
        _member_name(info)
        total += info.file_size
        if info.file_size > MAX_UNCOMPRESSED or total > MAX_UNCOMPRESSED:
            raise UsageError(f"the archive expands to more than {MAX_UNCOMPRESSED // 2**20} MB; split the upload")
        if info.file_size > CHUNK and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise UsageError(f"archive member {info.filename!r} is compressed more than {MAX_RATIO}:1 "
                             "(a zip bomb?); refused")
    return infos


def _extract_zip(zf: zipfile.ZipFile, folder: Path) -> Path:
    written = 0
    files = []
    for info in check_archive(zf):
        if info.is_dir():
            continue
        path = _member_name(info)
        if path.name == "sap.toml" or path.name.startswith(".") or path.parts[0] == "__MACOSX":
            continue
        if path.suffix.lower() != ".csv":
            raise UsageError(f"archive member {info.filename!r} is not a .csv file; upload the study's CSV files")
        files.append(path)
        target = folder.joinpath(*path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, target.open("xb") as dst:
            while chunk := src.read(CHUNK):
                written += len(chunk)
                if written > MAX_UNCOMPRESSED:
                    raise UsageError(f"the archive expands to more than {MAX_UNCOMPRESSED // 2**20} MB; refused")
                dst.write(chunk)
    if not files:
        raise UsageError("the archive holds no .csv files")
    parents = {p.parent for p in files}
    if len(parents) != 1:
        raise UsageError("the archive's CSV files must all be in one folder")
    return folder.joinpath(*next(iter(parents)).parts)


def receive(upload, folder: Path) -> Path:
    """Store ``upload`` (a Django ``UploadedFile``) safely under ``folder``; the path to import."""
    name = PurePosixPath(upload.name or "").name.lower()
    if upload.size is None or upload.size > MAX_UPLOAD_BYTES:
        raise UsageError(f"the upload is larger than {MAX_UPLOAD_BYTES // 2**20} MB; refused")
    if not name.endswith((".zip", ".xlsx")):
        raise UsageError("upload a .zip of the study's CSV files or an .xlsx workbook")
    raw = folder / ("upload.xlsx" if name.endswith(".xlsx") else "upload.zip")
    with raw.open("xb") as fh:
        for chunk in upload.chunks():
            fh.write(chunk)
    try:
        with zipfile.ZipFile(raw) as zf:
            if name.endswith(".xlsx"):
                check_archive(zf)  # the workbook reader decompresses it: the same bomb limits apply
                return raw
            return _extract_zip(zf, folder / "study")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as e:
        raise UsageError(f"{upload.name}: not a readable {'workbook' if name.endswith('.xlsx') else 'zip archive'} "
                         f"({e})") from None
