# SPDX-License-Identifier: MIT
from django.apps import AppConfig


class PagesConfig(AppConfig):
    name = "pages"
