#!/usr/bin/env bash
# rai merge / rai adapter inspect on the golden PEFT fixtures, and their error paths.
set -u
rai=$1 golden=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fails=0 passes=0
expect() {  # expect <0|nonzero> <description> <command...>
  local want=$1 what=$2; shift 2
  "$@" >"$out/log" 2>&1
  local rc=$?
  if { [[ $want == 0 ]] && [[ $rc == 0 ]]; } || { [[ $want != 0 ]] && [[ $rc != 0 ]]; }; then
    passes=$((passes + 1))
  else
    echo "FAIL: $what (exit $rc)"; cat "$out/log"; fails=$((fails + 1))
  fi
}
for t in lora dora ia3 vera loha lokr adalora; do
  expect 0 "inspect $t" "$rai" adapter inspect "$golden/$t"
  expect 0 "merge $t" "$rai" merge "$golden/base/model.safetensors" "$golden/$t" "$out/$t.safetensors" --safe
done
grep -q '"peft_type": "LORA"' <("$rai" adapter inspect "$golden/lora") || { echo "FAIL: inspect output"; fails=$((fails + 1)); }
expect 0 "merge --dtype bf16" "$rai" merge "$golden/base/model.safetensors" "$golden/lora" "$out/bf16.safetensors" --dtype bf16
expect 0 "inspect a folder of adapters" "$rai" adapter inspect "$golden"
expect 1 "merge without arguments" "$rai" merge
expect 1 "merge with a bad dtype" "$rai" merge "$golden/base/model.safetensors" "$golden/lora" "$out/x.safetensors" --dtype q4
expect 1 "merge of a missing base" "$rai" merge /nonexistent.safetensors "$golden/lora" "$out/x.safetensors"
expect 1 "merge of a missing adapter" "$rai" merge "$golden/base/model.safetensors" /nonexistent "$out/x.safetensors"
expect 1 "inspect a missing directory" "$rai" adapter inspect /nonexistent
mkdir -p "$out/broken" && cp "$golden/lora/adapter_model.safetensors" "$out/broken/" &&
  sed 's/"peft_type": "LORA",//' "$golden/lora/adapter_config.json" > "$out/broken/adapter_config.json"
expect 1 "inspect without peft_type" "$rai" adapter inspect "$out/broken"
[[ -e "$out/x.safetensors" ]] && { echo "FAIL: a failed merge left an output file"; fails=$((fails + 1)); }
echo "$passes passed, $fails failed"
[[ $fails == 0 ]]
