#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Django's command-line utility for the test project (made by `django-admin startproject`)."""
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djsite.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
