#!/usr/bin/env python3
"""librai exports exactly the functions rai.h declares with RAI_API, all on version node RAI_0;
librai needs no CUDA or MPI library; each plugin (given as cuda=PATH or mpi=PATH) exports only
its entry point."""
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


PLUGIN_ENTRIES = {"cuda": "raicuda_backend_entry", "mpi": "raimpi_backend_entry"}


def main(lib, header, *plugins):
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
        failures.append("librai links a CUDA library directly; only the CUDA plugin may")
    if re.search(r"NEEDED.*mpi", needed):
        failures.append("librai links an MPI library directly; only the MPI plugin may")
    for spec in plugins:
        kind, _, path = spec.partition("=")
        entry = PLUGIN_ENTRIES[kind]
        pexp = set(dynamic_symbols(path)) - {""}
        if pexp != {entry}:
            failures.append(f"{kind} plugin exports {sorted(pexp)}, expected only {entry}")
    for f in failures:
        print("FAIL:", f)
    print(f"{len(declared)} declared, {len(exported)} exported")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
