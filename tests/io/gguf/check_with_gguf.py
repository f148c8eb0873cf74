#!/usr/bin/env python3
"""Loads a GGUF file written by rai (tests/io/gguf/gguf_write_sample.c) with gguf-py's
GGUFReader, llama.cpp's own Python reader, and compares tensor types, shapes, raw bytes and
dequantized values with values regenerated here from the same LCG; TQ1_0 / TQ2_0 tensors
quantized by rai must equal gguf.quants.quantize bit for bit. Also checks that the layout
follows gguf.c's rule (tensor i at the running data size padded to the alignment).

Usage: check_with_gguf.py WRITER OUT.gguf     (runs WRITER OUT.gguf first)
Exit 77 (skipped) when the gguf package is not importable by this Python."""
import subprocess
import sys

try:
    import numpy as np
    import gguf
    from gguf import GGMLQuantizationType as Q
    from gguf.quants import dequantize, quantize
except ImportError as e:  # pragma: no cover
    print(f"skipped: {e} (pip install gguf numpy)")
    sys.exit(77)

M = (1 << 64) - 1


class Lcg:
    def __init__(self, seed=1):
        self.s = seed

    def next(self):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) & M
        return self.s >> 33

    def trit(self):
        return self.next() % 3 - 1

    def scale(self):
        return np.float32(1 + self.next() % 1000) / np.float32(4096)

    def value(self):
        return np.float32(int(self.next() % 20001) - 10000) / np.float32(1000)


failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def main(writer, path):
    subprocess.run([writer, path], check=True)
    g = Lcg(1)
    t1 = np.array([g.trit() for _ in range(3 * 512)], np.int8).reshape(3, 512)
    s1 = np.array([g.scale() for _ in range(3)], np.float32)
    t2 = np.array([g.trit() for _ in range(2 * 768)], np.int8).reshape(2, 768)
    s2 = np.array([g.scale() for _ in range(6)], np.float32).reshape(2, 3)
    t3 = np.array([g.trit() for _ in range(256)], np.int8)
    v4 = np.array([g.value() for _ in range(2 * 512)], np.float32).reshape(2, 512)
    v5 = np.array([g.value() for _ in range(12)], np.float32).reshape(3, 4)

    def f16r(x):  # what an f16 block scale holds
        return np.asarray(x, np.float32).astype(np.float16).astype(np.float32)

    expect = {
        "tern.row": (Q.TQ2_0, (3, 512), t1.astype(np.float32) * f16r(s1)[:, None]),
        "tern.g256": (Q.TQ1_0, (2, 768), t2.astype(np.float32) * np.repeat(f16r(s2), 256, axis=1)),
        "tern.tensor": (Q.TQ2_0, (256,), t3.astype(np.float32) * f16r(0.25)),
        "quant.tq1": (Q.TQ1_0, (2, 512), dequantize(quantize(v4, Q.TQ1_0), Q.TQ1_0)),
        "quant.tq2": (Q.TQ2_0, (2, 512), dequantize(quantize(v4, Q.TQ2_0), Q.TQ2_0)),
        "f32.x": (Q.F32, (3, 4), v5),
        "f16.x": (Q.F16, (3, 4), v5.astype(np.float16).astype(np.float32)),
        "bf16.x": (Q.BF16, (3, 4), dequantize(quantize(v5, Q.BF16), Q.BF16)),
        "i8.x": (Q.I8, (5,), np.array([-128, -1, 0, 1, 127], np.float32)),
        "i32.x": (Q.I32, (2, 2), np.array([[-(2**31), -1], [0, 2**31 - 1]], np.float64)),
    }
    raw_expect = {
        "quant.tq1": quantize(v4, Q.TQ1_0),
        "quant.tq2": quantize(v4, Q.TQ2_0),
        "bf16.x": quantize(v5, Q.BF16),
    }

    r = gguf.GGUFReader(path)
    names = [t.name for t in r.tensors]
    check(names == list(expect), f"tensor order {names}")
    align = r.alignment
    check(align == 64, f"alignment {align}")
    running = 0
    start = min(t.data_offset for t in r.tensors)
    for t in r.tensors:
        qt, shape, values = expect[t.name]
        check(t.tensor_type == qt, f"{t.name}: type {t.tensor_type.name}, expected {qt.name}")
        check(tuple(int(d) for d in reversed(t.shape)) == shape, f"{t.name}: shape {list(t.shape)} (ne order)")
        check(t.data_offset - start == running, f"{t.name}: offset {t.data_offset - start}, gguf.c expects {running}")
        check(t.data_offset % align == 0, f"{t.name}: data offset not aligned")
        running += (t.n_bytes + align - 1) // align * align
        if qt in (Q.I8, Q.I32):
            got = np.asarray(t.data, np.float64).reshape(shape)
        else:
            got = dequantize(np.asarray(t.data), qt).reshape(shape)
        check(np.array_equal(got, np.asarray(values, got.dtype).reshape(shape)), f"{t.name}: values differ")
        if t.name in raw_expect:
            check(np.array_equal(np.asarray(t.data).view(np.uint8).ravel(), raw_expect[t.name].view(np.uint8).ravel()),
                  f"{t.name}: bytes differ from gguf.quants.quantize")

    f = r.fields
    check(f["general.architecture"].contents() == "rai-sample", "general.architecture")
    check(f["general.name"].contents() == "rai GGUF writer sample", "general.name")
    check(f["rai.u32"].contents() == 7 and f["rai.u32"].types == [gguf.GGUFValueType.UINT32], "rai.u32")
    check(f["rai.f32"].contents() == 0.5, "rai.f32")
    check(f["rai.bool"].contents() is True or f["rai.bool"].contents() == 1, "rai.bool")
    check(f["rai.i64"].contents() == -1234567890123, "rai.i64")
    check(list(f["rai.arr"].contents()) == [1, 2, 3], "rai.arr")
    check(f["rai.strs"].contents() == ["x", "yz"], "rai.strs")
    check(f["general.alignment"].contents() == 64, "general.alignment")

    from importlib.metadata import version
    print(f"gguf {version('gguf')}: {len(r.tensors)} tensors, {len(f)} fields checked, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
