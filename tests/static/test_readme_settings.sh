#!/usr/bin/env bash
# The README's settings table equals what the binaries' settings tables say.
set -euo pipefail
"$QALERT_SOURCE_DIR/scripts/settings-table.sh" --check "$QALERT_BIN_DIR"
