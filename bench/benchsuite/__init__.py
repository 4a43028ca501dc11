# SPDX-License-Identifier: MIT
"""Helpers of bench/suite.py: process accounting, servers, load generators, report."""
