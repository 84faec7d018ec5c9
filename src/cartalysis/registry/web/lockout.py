"""Lock-out after repeated failed logins: ``MAX_FAILURES`` failures for one username lock it for ``LOCK_SECONDS``.

Counted per username (whether or not the user exists, so the answer does not reveal which usernames exist) in
Django's cache. The default cache is per process, which is what ``registry serve`` runs; a deployment with several
worker processes must configure a shared cache (``CACHES``) for the count to be global. While a username is locked
even the right password is refused, so guessing cannot continue in the lock window.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache

MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60


def _key(username: str) -> str:
    return "login-failures:" + username.strip().casefold()[:150]


def failures(username: str) -> int:
    return cache.get(_key(username), 0)


def record_failure(username: str) -> None:
    key = _key(username)
    cache.add(key, 0, LOCK_SECONDS)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, LOCK_SECONDS)
    cache.touch(key, LOCK_SECONDS)  # the lock runs from the last failure


def clear(username: str) -> None:
    cache.delete(_key(username))


class LockoutAuthenticationForm(AuthenticationForm):
    """Django's login form, refusing a locked username before any password check."""

    error_messages = {**AuthenticationForm.error_messages,
                      "locked": f"Too many failed log-ins for this username: try again in {LOCK_SECONDS // 60} minutes."}

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if failures(username) >= MAX_FAILURES:
            raise forms.ValidationError(self.error_messages["locked"], code="locked")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            record_failure(username)
            raise
        clear(username)
        return cleaned
