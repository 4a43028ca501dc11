#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every source file of the tree says its licence in its first lines, as SPDX does it:
# "SPDX-License-Identifier: MIT" in the file's own comment syntax, on the first line (the
# second after a #! line). Which files count as source is the case below; docs, data and
# test corpora do not.
# Usage: scripts/spdx-headers.sh          lists the files without the line; exits 1 if any
#        scripts/spdx-headers.sh --fix    adds the line to them
set -euo pipefail
cd "$(dirname "$0")/.."
readonly tag="SPDX-License-Identifier: MIT"
fix=no
[[ "${1:-}" == --fix ]] && fix=yes

# The comment that carries the tag in $1, in $comment; empty when $1 is not a source file.
comment_for() {
  comment=
  case "$1" in
    *.c | *.h) comment="/* $tag */" ;;
    *.cpp | *.hpp | *.def | *.hpp.in | *.mjs) comment="// $tag" ;;
    *.1.in) comment=".\\\" $tag" ;;
    *.py | *.sh | *.cmake | *.cmake.in | CMakeLists.txt | */CMakeLists.txt | Dockerfile | *.Dockerfile | \
      .dockerignore | .ci/run | packaging/debian/postinst | packaging/debian/prerm | packaging/debian/postrm | \
      packaging/systemd/* | packaging/*.yaml | packaging/*.yml | packaging/*.yaml.in | packaging/*.conf | \
      packaging/*.pc.in)
      comment="# $tag" ;;
  esac
}

if ! files=$(git ls-files 2>/dev/null); then
  echo "spdx-headers.sh: skipped, not a git checkout" >&2
  exit 77
fi
sources=()
while IFS= read -r file; do
  comment_for "$file"
  [[ -n "$comment" && -f "$file" ]] && sources+=("$file")
done <<<"$files"
# One pass over every file's first two lines.
mapfile -t missing < <(awk -v tag="$tag" '
  FNR == 1 { if (NR > 1 && !seen) print prev; seen = 0; prev = FILENAME }
  FNR <= 2 && index($0, tag) { seen = 1 }
  END { if (NR > 0 && !seen) print prev }' "${sources[@]}")
if [[ $fix == no ]]; then
  (( ${#missing[@]} )) || exit 0
  printf '%s\n' "${missing[@]}"
  echo "${#missing[@]} file(s) above lack \"$tag\" in their first lines (scripts/spdx-headers.sh --fix adds it)" >&2
  exit 1
fi
for file in "${missing[@]}"; do
  comment_for "$file"
  # Rewritten in place (cat >), so the file keeps its mode.
  tmp=$(mktemp)
  if head -n 1 "$file" | grep -q '^#!'; then
    { head -n 1 "$file"; printf '%s\n' "$comment"; tail -n +2 "$file"; } > "$tmp"
  else
    { printf '%s\n' "$comment"; cat "$file"; } > "$tmp"
  fi
  cat "$tmp" > "$file" && rm -f "$tmp"
done
