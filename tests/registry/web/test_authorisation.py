"""Every URL route × every role × site: allowed, forbidden (403), or not found (404) for another site's ids.

The routes come from the URL resolver, so a new route without a policy line here fails the test. A patient of
another site answers exactly like a patient that does not exist (same status, same page): no existence leak.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import get_resolver, reverse
from registry_builders import SITE_PATIENTS, USERS

ANY = set(USERS)
SITE = {u for u, (_, s) in USERS.items() if s}
READERS = {u for u, (r, _) in USERS.items() if r in ("site_data_manager", "site_viewer", "coordinator", "admin")}
HOME_REDIRECTS = READERS  # site roles to their patients, coordinator and admin to the site overview

# route name -> (needs login, expected GET status for a logged-in user: function of the username)
POLICY = {
    "home": (True, lambda u: 302 if u in HOME_REDIRECTS else 200),
    "login": (False, lambda u: 200),
    "logout": (False, lambda u: 405),  # POST only (a GET link must not log out: CSRF)
    "password_change": (True, lambda u: 200),
    "password_change_done": (True, lambda u: 200),
    "stylesheet": (False, lambda u: 200),
    "patients": (True, lambda u: 200 if u in READERS else 403),
    "patient": (True, None),  # per patient id, below
    "answer_query": (True, None),  # per query id, below
    "upload": (True, lambda u: 200 if USERS[u][0] == "site_data_manager" else 403),
    "coordinator": (True, lambda u: 200 if USERS[u][0] in ("coordinator", "admin") else 403),
}


def _routes() -> list[str]:
    return [p.name for p in get_resolver().url_patterns]


def test_every_route_has_a_policy(web):
    assert sorted(_routes()) == sorted(POLICY)


def _client(username: str | None) -> Client:
    from django.contrib.auth.models import User

    c = Client()
    if username:
        c.force_login(User.objects.get(username=username))
    return c


@pytest.mark.parametrize("username", [None, *sorted(USERS)])
def test_every_route_for_every_role(web, username):
    c = _client(username)
    for name in _routes():
        needs_login, expected = POLICY[name]
        if name == "patient":
            _check_patients(c, username)
            continue
        if name == "answer_query":
            _check_answer(c, username, web["queries"])
            continue
        r = c.get(reverse(name))
        if username is None:
            if needs_login:
                assert r.status_code == 302 and r["Location"].startswith(reverse("login")), name
            else:
                assert r.status_code == expected(None), name
            continue
        assert r.status_code == expected(username), (name, username, r.status_code)


def _page(response) -> str:
    """The page without its CSRF token (masked afresh on every response)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


def _check_answer(c: Client, username: str | None, queries: dict[str, int]) -> None:
    absent = c.post(reverse("answer_query", args=[999999]), {"answer": "x"})
    for site, qid in sorted(queries.items()):
        url = reverse("answer_query", args=[qid])
        get, post = c.get(url), c.post(url, {"answer": "checked"})
        if username is None:
            assert get.status_code == post.status_code == 302
            continue
        role, own = USERS[username]
        if role != "site_data_manager":
            assert get.status_code == post.status_code == absent.status_code == 403
        elif site == own:
            assert get.status_code == 405 and post.status_code == 302
        else:
            assert post.status_code == 404 and _page(post) == _page(absent)


def _check_patients(c: Client, username: str | None) -> None:
    every = SITE_PATIENTS["S1"] | SITE_PATIENTS["S2"]
    absent = c.get(reverse("patient", args=["NO_SUCH"]))
    for pid in sorted(every):
        r = c.get(reverse("patient", args=[pid]))
        if username is None:
            assert r.status_code == 302 and r["Location"].startswith(reverse("login"))
            continue
        role, site = USERS[username]
        if username not in READERS:
            assert r.status_code == 403 and absent.status_code == 403
        elif site is None or pid in SITE_PATIENTS[site]:
            assert r.status_code == 200, (username, pid)
            assert f"Patient {pid}" in r.content.decode()
        else:
            assert r.status_code == 404, (username, pid)
            assert _page(r) == _page(absent)  # another site's patient looks like one that does not exist
    if username in READERS:
        assert absent.status_code == 404


@pytest.mark.parametrize("username", sorted(SITE))
def test_site_pages_show_only_the_own_site(web, username):
    site = USERS[username][1]
    other = "S2" if site == "S1" else "S1"
    page = _client(username).get(reverse("patients")).content.decode()
    assert all(pid in page for pid in SITE_PATIENTS[site])
    assert not any(pid in page for pid in SITE_PATIENTS[other])
