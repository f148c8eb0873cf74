#!/usr/bin/env python3
"""A tour of the rai Python binding: what the library is, what it runs on, and one buffer round trip.

Run it with the package importable, e.g. from a Meson build tree:
    PYTHONPATH=build/bindings/python RAI_LIBRARY=$PWD/build/src/librai.so.0 python3 examples/python/example.py
Exits with status 0 when the round trip returned exactly what was written.
"""

import sys

import rai


def main():
    print(f"rai {rai.version()} (binding generated from rai.h {rai.__version__}, {rai.binding_mode()} mode)")
    print(f"build: {rai.build_info()}")

    detected = rai.cpu_feature_names(rai.cpu_features_detected())
    print(f"CPU features: {', '.join(detected) or 'none'}; kernels dispatch to {rai.cpu_dispatch_level()}")

    devices = rai.cuda_devices()
    if devices:
        for d in devices:
            print(f"CUDA device {d.ordinal}: {d.name}, compute capability {d.compute_capability[0]}."
                  f"{d.compute_capability[1]}, {d.multiprocessor_count} SMs, "
                  f"{d.total_memory_bytes / 2**30:.1f} GiB")
    else:
        print(f"CUDA devices: none ({rai.cuda_plugin_status()})")

    # Log records (such as the CPU-fallback warning of an "auto" context) go to this callback.
    rai.set_log_callback(lambda level, message: print(f"[rai {level.name.lower()}] {message}"))

    payload = bytes(range(256)) * 4
    try:
        with rai.Context("auto") as ctx, rai.Buffer(ctx, len(payload)) as buf:
            print(f"context on {ctx.device}; buffer of {buf.nbytes} bytes on {buf.device}")
            buf.write(payload)
            back = buf.read()
            middle = buf.read(16, offset=500)
    except rai.RaiError as exc:
        print(f"rai failed: {exc} (status {exc.status.name})", file=sys.stderr)
        return 1
    finally:
        rai.set_log_callback(None)

    if back != payload or middle != payload[500:516]:
        print("buffer round trip: MISMATCH", file=sys.stderr)
        return 1
    print(f"buffer round trip: {len(back)} bytes OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
