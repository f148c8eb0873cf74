#!/usr/bin/env bash
# README command 2: builds if needed and runs every test suite (C++, C, ABI, CLI, examples,
# Python, Go, C#; the GPU suite skips without a GPU). The last line of output is
# "N passed, N failed, N skipped". Exit status is non-zero when anything failed.
# Extra arguments go to `meson test` (for example: --suite gpu).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null || { echo "setup failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
source scripts/env.sh
if ! rai_build; then
  echo "build failed"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi
meson test -C "$RAI_BUILD" --print-errorlogs --num-processes 2 "$@"
rc=$?
python3 - "$RAI_BUILD/meson-logs/testlog.json" <<'PY'
import json, sys
results = [json.loads(line)["result"] for line in open(sys.argv[1]) if line.strip()]
passed = sum(r in ("OK", "EXPECTEDFAIL") for r in results)
skipped = results.count("SKIP")
print(f"{passed} passed, {len(results) - passed - skipped} failed, {skipped} skipped")
PY
exit $rc
