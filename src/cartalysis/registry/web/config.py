"""Settings of the web application, added to the registry's library settings (``registry.settings``).

Security choices (each one tested in ``tests/registry/web``):

- sessions expire after ``SESSION_IDLE_SECONDS`` of inactivity (``SESSION_SAVE_EVERY_REQUEST`` renews the cookie
  on use) and at browser close; cookies are ``HttpOnly`` and ``SameSite=Strict``, and ``Secure`` when the site is
  served over HTTPS (``CARTALYSIS_HTTPS=1``; the loopback development server speaks plain HTTP);
- CSRF protection on every form (Django's middleware; the token is checked on every unsafe method);
- ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``,
  ``Cross-Origin-Opener-Policy: same-origin`` (Django's security middleware) and a Content-Security-Policy plus
  ``Cache-Control: no-store`` from :mod:`.middleware` (Django 5.2 has no CSP of its own);
- passwords hashed with Django's default (PBKDF2-SHA256), checked against Django's validators on change;
- the secret key comes from ``CARTALYSIS_SECRET_KEY``; without it each server start draws a random one (sessions
  do not survive a restart, which is the safe failure).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SESSION_IDLE_SECONDS = 30 * 60
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # one study upload (a 31-site registry's monthly CSV zip is a few MB)


def web_settings(hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> dict:
    """Settings to add to ``registry.settings.settings_dict()`` (or to override in tests)."""
    https = os.environ.get("CARTALYSIS_HTTPS") == "1"
    return {
        "DEBUG": False,
        "ALLOWED_HOSTS": list(hosts) + ["testserver"],
        "SECRET_KEY": os.environ.get("CARTALYSIS_SECRET_KEY") or secrets.token_urlsafe(50),
        "ROOT_URLCONF": "cartalysis.registry.web.urls",
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            "cartalysis.registry.web.middleware.SecurityHeaders",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        "TEMPLATES": [{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [str(Path(__file__).parent / "templates")],
            "APP_DIRS": False,
            "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                               "django.template.context_processors.csrf",
                                               "django.contrib.auth.context_processors.auth"]},
        }],
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.PBKDF2PasswordHasher"],
        "AUTH_PASSWORD_VALIDATORS": [
            {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
            {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
            {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
            {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
        ],
        "LOGIN_URL": "login",
        "LOGIN_REDIRECT_URL": "home",
        "LOGOUT_REDIRECT_URL": "login",
        "SESSION_COOKIE_AGE": SESSION_IDLE_SECONDS,
        "SESSION_SAVE_EVERY_REQUEST": True,
        "SESSION_EXPIRE_AT_BROWSER_CLOSE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Strict",
        "SESSION_COOKIE_SECURE": https,
        "CSRF_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SAMESITE": "Strict",
        "CSRF_COOKIE_SECURE": https,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "SECURE_CROSS_ORIGIN_OPENER_POLICY": "same-origin",
        "SECURE_HSTS_SECONDS": 31536000 if https else 0,
        "X_FRAME_OPTIONS": "DENY",
        "DATA_UPLOAD_MAX_MEMORY_SIZE": 1024 * 1024,  # form fields; files are limited by upload.py
        "FILE_UPLOAD_MAX_MEMORY_SIZE": 2 * 1024 * 1024,
        "DATA_UPLOAD_MAX_NUMBER_FILES": 1,
        "CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                               "LOCATION": "cartalysis-web"}},
    }
