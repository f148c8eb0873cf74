#!/usr/bin/env bash
# Meson test: rai writes PEFT directories (write_peft_dir), then HF PEFT loads each with no
# missing or unexpected keys and reproduces the recorded outputs (check_peft_loads.py).
# Exit 77 (skipped) when the configured Python cannot import peft; RAI_PEFT_PYTHON overrides
# the interpreter (e.g. /work/peft-venv/bin/python).
set -u
writer=$1 golden=$2 cli=${3:-}
py=${RAI_PEFT_PYTHON:-${RAI_PYTHON:-python3}}
if ! "$py" -c "import peft, torch, transformers, safetensors" >/dev/null 2>&1; then
  echo "peft (with torch, transformers, safetensors) is not importable by $py: skipped"
  exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$writer" "$golden" "$out" || exit 1
if [[ -n "$cli" ]]; then
  # rai merge of every golden adapter into the golden base, compared with peft's merge_and_unload.
  mkdir -p "$out/merged"
  for t in lora dora ia3 vera loha lokr adalora; do
    "$cli" merge "$golden/base/model.safetensors" "$golden/$t" "$out/merged/$t.safetensors" >/dev/null || exit 1
  done
fi
"$py" "$golden/check_peft_loads.py" "$golden" "$out"
