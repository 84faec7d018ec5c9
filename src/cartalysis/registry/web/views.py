"""Views: each one resolves the logged-in user to a registry ``Actor`` and calls the data-access layer.

Authorisation is the data-access layer's: ``AccessDenied`` becomes 403 and ``NotFound`` 404 with the same page for
a record of another site as for one that does not exist (``forbidden``/``not_found``), so ids do not leak.
Templates auto-escape every value (patient data are untrusted text).
"""

from __future__ import annotations

import functools
import tempfile
from collections import Counter
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from cartalysis.registry import access as a
from cartalysis.registry import ingest, snapshots
from cartalysis.registry.models import SITE_ROLES
from cartalysis.registry.web.upload import receive
from cartalysis.study.errors import StudyError, UsageError
from cartalysis.study.spec import TABLES

STATIC = Path(__file__).parent / "static"


def _page(request, template: str, status: int = 200, **context):
    return render(request, f"registry/{template}", context, status=status)


def registry_view(fn):
    """Login required; the registry actor is passed in; access errors become 403/404 pages."""

    @login_required
    @functools.wraps(fn)
    def view(request, *args, **kwargs):
        try:
            who = a.actor(request.user.username)
        except a.NotFound:
            return _page(request, "error.html", 403, message="Your account has no registry role.")
        try:
            return fn(request, who, *args, **kwargs)
        except a.AccessDenied:
            return _page(request, "error.html", 403, who=who, message="Your role may not open this page.")
        except a.NotFound:
            return _page(request, "error.html", 404, who=who, message="Not found.")

    return view


def stylesheet(request):
    return FileResponse((STATIC / "registry.css").open("rb"), content_type="text/css")


@registry_view
def home(request, who):
    if who.role in SITE_ROLES:
        return HttpResponseRedirect(reverse("patients"))
    if who.role in ("coordinator", "admin"):
        return HttpResponseRedirect(reverse("coordinator"))
    return _page(request, "home.html", who=who)


@registry_view
def patients(request, who):
    rows = a.list_patients(who)
    queries = a.list_queries(who) if who.role != "admin" else []
    return _page(request, "patients.html", who=who, patients=rows, queries=queries,
                 can_upload=who.role == "site_data_manager")


@registry_view
def patient(request, who, patient_id: str):
    record = a.get_patient(who, patient_id)
    tables = []
    for spec in TABLES:
        rows = record.table(spec.name)
        if not rows:
            continue
        columns = [c for c in spec.names if any(c in r.values for r in rows)]
        columns += sorted({c for r in rows for c in r.values} - set(columns))
        tables.append((spec.name, columns, [[r.values.get(c, "") for c in columns] for r in rows]))
    return _page(request, "patient.html", who=who, record=record, tables=tables)


@registry_view
def upload(request, who):
    a.require(who, "site_data_manager")
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    context = {"who": who}
    status = 200
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        file = request.FILES.get("study")
        status = 400
        if file is None:
            context["error"] = "Choose a file to upload."
        else:
            with tempfile.TemporaryDirectory(prefix="cartalysis-upload-") as tmp:
                try:
                    path = receive(file, Path(tmp))
                    context["summary"] = ingest.import_study(who, who.site_code, [path], reason)
                    status = 200
                except StudyError as e:
                    context["problems"] = [(_relative(p.file, tmp), p.row or "", p.column or "", p.message)
                                           for p in e.problems]
                    status = 422
                except UsageError as e:
                    context["error"] = _relative(str(e), tmp)
    return _page(request, "upload.html", status, **context)


@registry_view
def answer_query(request, who, query_id: int):
    """A site data manager answers an open query of their site (POST from the patients page)."""
    a.require(who, "site_data_manager")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    answer = request.POST.get("answer", "").strip()
    if not answer:
        return _page(request, "error.html", 400, who=who, message="An answer cannot be empty.")
    try:
        a.answer_query(who, query_id, answer)
    except UsageError as e:
        return _page(request, "error.html", 400, who=who, message=str(e))
    return HttpResponseRedirect(reverse("patients"))


def _relative(text: str, tmp: str) -> str:
    """Problem locations name the uploaded files, not the server's temp folder."""
    for prefix in (f"{tmp}/study/", f"{tmp}/", tmp):
        text = text.replace(prefix, "")
    return text


@registry_view
def coordinator(request, who):
    a.require(who, "coordinator", "admin")
    enrolled = Counter(p.site for p in a.list_patients(who))
    open_queries = Counter(q.site for q in a.list_queries(who))
    by_site = [(s, enrolled.get(s, 0), open_queries.get(s, 0)) for s in a.sites()]
    return _page(request, "coordinator.html", who=who, by_site=by_site, snapshots=snapshots.list_snapshots(who),
                 total=sum(enrolled.values()), open_total=sum(open_queries.values()))
