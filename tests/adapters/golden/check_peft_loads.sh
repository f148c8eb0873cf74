#!/usr/bin/env bash
# Meson test: rai writes PEFT directories (write_peft_dir), then HF PEFT loads each with no
# missing or unexpected keys and reproduces the recorded outputs (check_peft_loads.py).
# Exit 77 (skipped) when the configured Python cannot import peft; RAI_PEFT_PYTHON overrides
# the interpreter (e.g. /work/peft-venv/bin/python).
set -u
writer=$1 golden=$2
py=${RAI_PEFT_PYTHON:-${RAI_PYTHON:-python3}}
if ! "$py" -c "import peft, torch, transformers, safetensors" >/dev/null 2>&1; then
  echo "peft (with torch, transformers, safetensors) is not importable by $py: skipped"
  exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$writer" "$golden" "$out" || exit 1
"$py" "$golden/check_peft_loads.py" "$golden" "$out"
