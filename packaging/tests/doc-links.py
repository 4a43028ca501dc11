#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Every relative link in every Markdown file under ROOT resolves inside ROOT: the file or
directory exists, and a #fragment names a heading of the target (GitHub's anchors). Run on
the installed docs (/usr/share/doc/cppgunicorn) it proves a reader of the package never meets
a link into a source tree they do not have.

Usage: doc-links.py ROOT          prints each broken link as FILE:LINE: TARGET (why); exits 1
"""
import os
import re
import sys

LINK = re.compile(r"\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def prose_lines(path, keep_code=False):
    """(line number, text) of the lines outside fenced code blocks, inline code removed
    unless keep_code."""
    fence = None
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            stripped = line.lstrip()
            marker = re.match(r"(`{3,}|~{3,})", stripped)
            if marker:
                if fence is None:
                    fence = marker.group(1)[0] * len(marker.group(1))
                elif stripped.startswith(fence):
                    fence = None
                continue
            if fence is None:
                yield number, line if keep_code else re.sub(r"`+[^`]*`+", "", line)


def slug(heading):
    """The anchor GitHub gives a heading: its text lower-cased, punctuation dropped, spaces
    turned into hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").replace("*", "")
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path, cache={}):
    if path not in cache:
        found, seen = set(), {}
        for _, line in prose_lines(path, keep_code=True):
            found.update(HTML_ANCHOR.findall(line))
            m = HEADING.match(line)
            if m:
                base = slug(m.group(2))
                n = seen.get(base, 0)
                seen[base] = n + 1
                found.add(base if n == 0 else "%s-%d" % (base, n))
        cache[path] = found
    return cache[path]


def broken_links(root, md):
    for number, line in prose_lines(md):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto:
                continue
            path, _, fragment = target.partition("#")
            resolved = os.path.normpath(os.path.join(os.path.dirname(md), path)) if path else md
            where = "%s:%d: %s" % (os.path.relpath(md, root), number, target)
            if os.path.commonpath([os.path.realpath(resolved), root]) != root:
                yield where + " (outside %s)" % root
            elif not os.path.exists(resolved):
                yield where + " (no such file)"
            elif fragment and resolved.endswith(".md") and fragment not in anchors(resolved):
                yield where + " (no heading with that anchor)"


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    root = os.path.realpath(argv[1])
    files, problems = 0, []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith((".", "build")))
        for name in sorted(names):
            if name.endswith(".md"):
                files += 1
                problems += broken_links(root, os.path.join(directory, name))
    for problem in problems:
        print(problem)
    if files == 0:
        sys.exit("doc-links.py: no Markdown file under %s" % root)
    if problems:
        sys.exit("doc-links.py: %d broken link(s) in %d file(s) under %s" % (len(problems), files, root))
    print("doc-links.py: every relative link in %d Markdown file(s) under %s resolves" % (files, root))


if __name__ == "__main__":
    main(sys.argv)
