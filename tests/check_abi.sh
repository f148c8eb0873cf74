#!/usr/bin/env bash
# Compares librai's ABI with the committed baseline abi/librai-0.abi.
# abidiff exit status: bit 1/2 tool error, bit 4 "ABI changed" (compatible), bit 8 incompatible.
# An incompatible change fails. A compatible change (new function, appended field or enum value)
# also fails until the baseline is updated deliberately with scripts/update_abi.sh.
set -u
lib=$1 baseline=$2
supp=$(dirname "$baseline")/rai.abignore
command -v abidiff >/dev/null || { echo "abidiff not installed: skipped"; exit 77; }
abidiff --no-added-syms --suppressions "$supp" "$baseline" "$lib" >/tmp/rai-abidiff.$$ 2>&1
rc=$?
cat /tmp/rai-abidiff.$$; rm -f /tmp/rai-abidiff.$$
if (( rc & 3 )); then echo "abidiff failed to run (exit $rc)"; exit 1; fi
if (( rc & 8 )); then echo "INCOMPATIBLE ABI change against $baseline"; exit 1; fi
if (( rc & 4 )); then
  echo "compatible ABI change: review it, then run scripts/update_abi.sh to accept it"; exit 1
fi
echo "ABI unchanged against $baseline"
