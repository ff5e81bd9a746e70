#!/usr/bin/env python
"""Django's command-line utility, run under hush:

    hush run --env dev -- python manage.py check
    hush run --env dev -- python manage.py runserver
"""
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Is it installed (pip install -r requirements.txt) "
            "and is the virtual environment active?"
        ) from exc
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
