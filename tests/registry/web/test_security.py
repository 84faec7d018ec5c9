"""Log-in, lock-out, session expiry, password change, CSRF and the security headers."""

from __future__ import annotations

import datetime as dt

import pytest
from registry_builders import WEB_PASSWORD as PASSWORD
from django.test import Client
from django.urls import reverse

from cartalysis.registry.web.lockout import MAX_FAILURES


def _login(c: Client, username: str, password: str):
    return c.post(reverse("login"), {"username": username, "password": password})


def test_login_and_logout(web):
    c = Client()
    assert c.get(reverse("patients")).status_code == 302
    r = _login(c, "dm1", PASSWORD)
    assert r.status_code == 302
    assert "P01" in c.get(reverse("patients")).content.decode()
    assert c.post(reverse("logout")).status_code == 302
    assert c.get(reverse("patients")).status_code == 302


def test_lockout_after_repeated_failures_even_with_the_right_password(web):
    c = Client()
    for _ in range(MAX_FAILURES):
        r = _login(c, "dm1", "wrong password")
        assert r.status_code == 200 and "Please enter a correct username" in r.content.decode()
    r = _login(c, "dm1", PASSWORD)
    assert r.status_code == 200 and "Too many failed log-ins" in r.content.decode()
    assert c.get(reverse("patients")).status_code == 302
    # an unknown username locks exactly the same way: the answer does not tell which usernames exist
    for _ in range(MAX_FAILURES):
        _login(c, "nobody", "x")
    assert "Too many failed log-ins" in _login(c, "nobody", "x").content.decode()


def test_success_resets_the_failure_count(web):
    c = Client()
    for _ in range(MAX_FAILURES - 1):
        _login(c, "dm1", "wrong password")
    assert _login(c, "dm1", PASSWORD).status_code == 302
    c.post(reverse("logout"))
    for _ in range(MAX_FAILURES - 1):
        _login(c, "dm1", "wrong password")
    assert _login(c, "dm1", PASSWORD).status_code == 302


def test_session_expires(web):
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    c = Client()
    _login(c, "dm1", PASSWORD)
    assert c.get(reverse("patients")).status_code == 200
    Session.objects.filter(session_key=c.session.session_key).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1))
    assert c.get(reverse("patients")).status_code == 302


def test_session_cookie_flags(web):
    c = Client()
    r = _login(c, "dm1", PASSWORD)
    cookie = r.cookies["sessionid"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert not cookie["max-age"]  # ends with the browser; the server side expires after the idle time


def test_password_change(web):
    c = Client()
    _login(c, "dm1", PASSWORD)
    new = "a much longer new passphrase 42"
    r = c.post(reverse("password_change"), {"old_password": PASSWORD, "new_password1": "short",
                                            "new_password2": "short"})
    assert r.status_code == 200 and "too short" in r.content.decode()
    r = c.post(reverse("password_change"), {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert r.status_code == 302 and r["Location"] == reverse("password_change_done")
    c2 = Client()
    assert _login(c2, "dm1", PASSWORD).status_code == 200
    assert _login(c2, "dm1", new).status_code == 302


@pytest.mark.parametrize("name", ["login", "logout", "password_change", "upload"])
def test_post_without_csrf_token_is_refused(web, name):
    from django.contrib.auth.models import User

    c = Client(enforce_csrf_checks=True)
    if name != "login":
        c.force_login(User.objects.get(username="dm1"))
    r = c.post(reverse(name), {"username": "dm1", "password": PASSWORD})
    assert r.status_code == 403 and b"CSRF" in r.content


def test_post_with_csrf_token_is_accepted(web):
    c = Client(enforce_csrf_checks=True)
    c.get(reverse("login"))
    r = c.post(reverse("login"), {"username": "dm1", "password": PASSWORD,
                                  "csrfmiddlewaretoken": c.cookies["csrftoken"].value})
    assert r.status_code == 302


@pytest.mark.parametrize("name", ["login", "patients", "upload"])
def test_security_headers(web, name):
    from django.contrib.auth.models import User

    c = Client()
    c.force_login(User.objects.get(username="dm1"))
    r = c.get(reverse(name))
    assert r.status_code == 200
    assert "default-src 'self'" in r["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in r["Content-Security-Policy"]
    assert r["X-Frame-Options"] == "DENY"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["Referrer-Policy"] == "same-origin"
    assert "no-store" in r["Cache-Control"]


def test_site_manager_answers_a_query_and_the_coordinator_sees_it(web):
    from django.contrib.auth.models import User

    from cartalysis.registry import access as a

    c = Client()
    c.force_login(User.objects.get(username="dm1"))
    qid = web["queries"]["S1"]
    assert c.post(reverse("answer_query", args=[qid]), {"answer": "age confirmed from the chart"}).status_code == 302
    (q,) = a.list_queries(a.actor("coord"), site="S1", status="answered")
    assert (q.id, q.answer, q.answered_by) == (qid, "age confirmed from the chart", "dm1")
    c.force_login(User.objects.get(username="coord"))
    page = c.get(reverse("coordinator")).content.decode()
    assert "<tr><td>S1</td><td>3</td><td>0</td></tr>" in page and "<tr><td>S2</td><td>2</td><td>1</td></tr>" in page
    assert "<td>v1</td>" in page
