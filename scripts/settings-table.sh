#!/usr/bin/env bash
# scripts/settings-table.sh [--check] [BIN_DIR] — regenerates the README's
# settings table from the binaries' own settings tables (each binary's
# `--help` with QALERT_HELP_FORMAT=markdown), so the README cannot drift from
# the code. --check exits 1 when the README is out of date (a test runs it).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
check=0; [ "${1:-}" = "--check" ] && { check=1; shift; }
bin=${1:-$top/build/bin}
rows=$(mktemp); trap 'rm -f "$rows"' EXIT
for b in qalert-ingest qalert-processor qalert-notifier qalert-replay qalert-genesys; do
  [ -x "$bin/$b" ] || continue
  QALERT_HELP_FORMAT=markdown "$bin/$b" --help | sed "s/^/$b	/" >> "$rows"
done
python3 - "$top/README.md" "$rows" "$check" <<'PY'
import sys, collections
readme, rows, check = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
by_var = collections.OrderedDict()
for line in open(rows):
    binary, _, row = line.rstrip("\n").partition("\t")
    cells = [c.strip() for c in row.strip().strip("|").split("|")]
    if len(cells) < 4 or not cells[0].startswith("`QALERT"):
        continue
    entry = by_var.setdefault(cells[0], {"cells": cells, "bins": []})
    entry["bins"].append(binary.replace("qalert-", ""))
nbins = len({b for e in by_var.values() for b in e["bins"]})
table = ["| variable | flag | default | used by | meaning |", "|---|---|---|---|---|"]
for var, e in by_var.items():
    c = e["cells"]
    users = "all" if len(e["bins"]) == nbins else ", ".join(e["bins"])
    table.append(f"| {c[0]} | {c[1]} | {c[2]} | {users} | {' | '.join(c[3:])} |")
text = open(readme).read()
begin = text.index("<!-- settings:begin")
begin = text.index("\n", begin) + 1
end = text.index("<!-- settings:end -->")
new = text[:begin] + "\n".join(table) + "\n" + text[end:]
if check:
    if new != text:
        print("README.md settings table is out of date: run scripts/settings-table.sh", file=sys.stderr)
        sys.exit(1)
else:
    open(readme, "w").write(new)
PY
