"""Settings for the hush Django example.

Every secret comes from the environment, which `hush run` fills from the hush
server. Nothing secret lives in this file or in the repository:

    hush set DJANGO_SECRET_KEY - < secret.txt
    hush set DATABASE_URL=sqlite:///db.sqlite3
    hush run --env dev --require DJANGO_SECRET_KEY,DATABASE_URL -- python manage.py check

A missing variable stops Django at startup with ImproperlyConfigured naming it,
instead of running with an insecure default.
"""
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def require_env(name):
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(
            f"The {name} environment variable is not set. "
            f"Store it in hush and start Django with `hush run -- python manage.py ...`."
        )
    return value


def parse_database_url(url):
    """sqlite:///relative.db, sqlite:////absolute.db, sqlite://:memory:,
    postgres://user:password@host:5432/name (postgresql:// too)."""
    parts = urlparse(url)
    if parts.scheme == "sqlite":
        if parts.netloc == ":memory:" or parts.path in ("", "/:memory:"):
            name = ":memory:"
        else:
            # sqlite:///db.sqlite3 -> "db.sqlite3" (relative to the project),
            # sqlite:////var/db.sqlite3 -> "/var/db.sqlite3".
            name = str(BASE_DIR / unquote(parts.path[1:]))
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name}
    if parts.scheme in ("postgres", "postgresql", "pgsql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
        }
    # The scheme only: the rest of the URL may hold a password.
    raise ImproperlyConfigured(
        f"DATABASE_URL has an unsupported scheme {parts.scheme!r} "
        "(use sqlite:/// or postgres://)."
    )


SECRET_KEY = require_env("DJANGO_SECRET_KEY")
DATABASES = {"default": parse_database_url(require_env("DATABASE_URL"))}

DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = [
    h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h
]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "mysite.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
