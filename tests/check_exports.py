#!/usr/bin/env python3
"""librai exports exactly the functions rai.h declares with RAI_API, all on version node RAI_0;
librai needs no CUDA library; the CUDA plugin exports only its entry point."""
import re
import subprocess
import sys


def dynamic_symbols(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            name, _, version = parts[2].partition("@")
            syms[name] = version.lstrip("@")
    return syms


def main(lib, header, plugin=None):
    text = open(header).read()
    declared = set(re.findall(r"RAI_API\s+[^;{}]*?\b(rai_\w+)\s*\(", text))
    syms = dynamic_symbols(lib)
    exported = {n for n in syms if n != "RAI_0"}
    failures = []
    if exported - declared:
        failures.append(f"exported but not declared RAI_API: {sorted(exported - declared)}")
    if declared - exported:
        failures.append(f"declared RAI_API but not exported: {sorted(declared - exported)}")
    off_node = sorted(n for n, v in syms.items() if n != "RAI_0" and v != "RAI_0")
    if off_node:
        failures.append(f"symbols not on version node RAI_0: {off_node}")
    needed = subprocess.run(["readelf", "-d", lib], check=True, capture_output=True, text=True).stdout
    if re.search(r"NEEDED.*(cuda|cublas)", needed):
        failures.append("librai links a CUDA library directly; only the plugin may")
    if plugin:
        pexp = set(dynamic_symbols(plugin)) - {""}
        if pexp != {"raicuda_backend_entry"}:
            failures.append(f"plugin exports {sorted(pexp)}, expected only raicuda_backend_entry")
    for f in failures:
        print("FAIL:", f)
    print(f"{len(declared)} declared, {len(exported)} exported")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
