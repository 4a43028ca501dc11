#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The include graph of server/ against the layer table of docs/architecture.md: every
`#include "folder/..."` (or "cppgunicorn/...") must be in its folder's "may include" column
(a folder, or one file such as `worker/boot.hpp`), and every folder must have a row.
Usage: tests/layers.py [SOURCE_DIR]. Exit 1, listing each violation, when they disagree."""
import os
import re
import sys


def layer_table(doc):
    """{folder: allowed} from the rows `| `server/X/` | `a`, `b/c.hpp` | ...`."""
    rows = {}
    for m in re.finditer(r"^\| `(server/[a-z_]+/|server/main\.cpp|include/cppgunicorn/)` \| ([^|]*) \|", doc, re.M):
        allowed = set(re.findall(r"`([a-z_]+(?:/[a-z_]+\.hpp)?)`", m.group(2)))
        if "every folder" in m.group(2):
            allowed.add("*")
        rows[m.group(1)] = allowed
    return rows


def folder_of(path):
    parts = path.split(os.sep)
    return "server/main.cpp" if parts[1:] == ["main.cpp"] else "/".join(parts[:2]) + "/"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    os.chdir(root)
    table = layer_table(open("docs/architecture.md").read())
    problems = []
    folders = {"server/main.cpp"} | {"server/%s/" % d for d in os.listdir("server") if os.path.isdir("server/" + d)}
    problems += ["no row for %s in docs/architecture.md's layer table" % f for f in sorted(folders - set(table))]
    for dirpath, _, files in os.walk("server"):
        for name in files:
            if not name.endswith((".cpp", ".hpp", ".def", ".in")):
                continue
            path = os.path.join(dirpath, name)
            here = folder_of(path)
            allowed = table.get(here, set())
            for number, line in enumerate(open(path), 1):
                m = re.match(r'\s*#\s*include "([a-z_]+)/([^"]+)"', line)
                if not m or "server/%s/" % m.group(1) == here or "*" in allowed:
                    continue
                if m.group(1) not in allowed and "%s/%s" % (m.group(1), m.group(2)) not in allowed:
                    problems.append("%s:%d includes %s/%s, which %s may not (see docs/architecture.md)"
                                    % (path, number, m.group(1), m.group(2), here))
    for p in problems:
        print(p)
    print("%d layer violation(s)" % len(problems) if problems else "every #include points downward")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
