"""Upload of a site's study: import, located problems on rejection, and the archive limits."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from cartalysis.registry import access as a
from cartalysis.registry.web import upload


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _folder_zip(folder: Path, prefix: str = "study/", edit=None) -> bytes:
    files = {f"{prefix}{f.name}": f.read_bytes() for f in sorted(folder.glob("*.csv"))}
    if edit:
        edit(files)
    return _zip(files)


def _post(username: str, data: bytes, name: str = "study.zip", reason: str = ""):
    from django.contrib.auth.models import User

    c = Client()
    c.force_login(User.objects.get(username=username))
    return c.post(reverse("upload"), {"study": SimpleUploadedFile(name, data), "reason": reason})


def test_upload_imports_the_site_data(web):
    r = _post("dm1", _folder_zip(web["folders"]["S1"]), reason="monthly upload")
    assert r.status_code == 200, r.content.decode()
    assert "Imported: 3 patients" in r.content.decode()


def test_rejected_upload_shows_located_problems_and_changes_nothing(web):
    def corrupt(files):
        text = files["study/subjects.csv"].decode().splitlines()
        header = text[0].split(",")
        row = text[1].split(",")
        row[header.index("age")] = "old"
        files["study/subjects.csv"] = ("\n".join([text[0], ",".join(row), *text[2:]]) + "\n").encode()

    before = a.audit_trail(a.actor("dm1"))
    r = _post("dm1", _folder_zip(web["folders"]["S1"], edit=corrupt), reason="x")
    page = r.content.decode()
    assert r.status_code == 422
    assert '<table id="problems">' in page and "<td>subjects.csv</td><td>2</td><td>age</td>" in page
    assert "cartalysis-upload-" not in page  # no server paths
    assert a.audit_trail(a.actor("dm1")) == before


def test_another_sites_data_is_refused(web):
    r = _post("dm1", _folder_zip(web["folders"]["S2"]))
    assert r.status_code == 422 and "but this import is for site" in r.content.decode()


@pytest.mark.parametrize("name", ["../subjects.csv", "study/../../etc/x.csv", "/abs/subjects.csv",
                                  "study\\..\\x.csv", "C:/x.csv"])
def test_path_traversal_members_are_refused(web, name):
    r = _post("dm1", _zip({name: b"patient_id\n"}))
    assert r.status_code == 400 and "unsafe path" in r.content.decode()
    assert not (Path("/etc/x.csv").exists() or Path("/abs").exists())


def test_symlink_members_are_refused(web):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("study/subjects.csv")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    r = _post("dm1", buf.getvalue())
    assert r.status_code == 400 and "symbolic link" in r.content.decode()


def test_oversized_upload_is_refused(web, monkeypatch):
    monkeypatch.setattr(upload, "MAX_UPLOAD_BYTES", 1000)
    r = _post("dm1", _folder_zip(web["folders"]["S1"]) + b"\0" * 1000)
    assert r.status_code == 400 and "larger than" in r.content.decode()


def test_zip_bomb_is_refused(web):
    r = _post("dm1", _zip({"study/subjects.csv": b"0" * (8 * 1024 * 1024)}))
    assert r.status_code == 400 and "zip bomb" in r.content.decode()


def test_total_uncompressed_size_is_limited(web, monkeypatch):
    monkeypatch.setattr(upload, "MAX_UNCOMPRESSED", 10_000)
    r = _post("dm1", _zip({f"study/t{i}.csv": b"x" * 4000 for i in range(3)}, zipfile.ZIP_STORED))
    assert r.status_code == 400 and "expands to more than" in r.content.decode()


def test_too_many_members_are_refused(web, monkeypatch):
    monkeypatch.setattr(upload, "MAX_MEMBERS", 3)
    r = _post("dm1", _zip({f"study/t{i}.csv": b"x" for i in range(4)}))
    assert r.status_code == 400 and "members" in r.content.decode()


def test_not_a_zip_and_the_file_name_is_escaped(web):
    r = _post("dm1", b"not a zip", name="<img src=x onerror=alert(1)>.zip")
    page = r.content.decode()
    assert r.status_code == 400 and "not a readable zip archive" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.zip" in page


def test_only_site_data_managers_may_upload(web):
    for username in ("view1", "coord", "root"):
        assert _post(username, _folder_zip(web["folders"]["S1"])).status_code == 403
