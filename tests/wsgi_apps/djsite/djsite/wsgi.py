# SPDX-License-Identifier: MIT
"""WSGI config for djsite: `cppgunicorn --pythonpath tests/wsgi_apps/djsite djsite.wsgi:application`
(or gunicorn with the same arguments). As `django-admin startproject` writes it."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djsite.settings")

application = get_wsgi_application()
