#!/usr/bin/env python3
"""Golden GGUF files for rai's GGUF reader, produced by the real peer: gguf-py, llama.cpp's own
Python package (GGUFWriter, and gguf.quants' TQ1_0 / TQ2_0 / BF16 quantizers, which mirror
ggml-quants.c's quantize_row_tq*_0_ref).

Regenerate (outside the repository's environment, e.g. /work/gguf-venv):
    python3 -m venv /tmp/gguf-venv && /tmp/gguf-venv/bin/pip install gguf numpy
    /tmp/gguf-venv/bin/python tests/io/gguf/golden/make_gguf_golden.py

Writes, next to this script:
  tq_golden.gguf          default alignment (32)
  tq_golden_align64.gguf  general.alignment = 64, a subset of the tensors
  GOLDEN_VERSIONS.txt     the gguf and numpy versions that produced them

The files are self-describing, so rai's test needs no other data:
  src.w [4, 512] f32 seeded N(0, 1) with an all-zero block (row 1) and exact half ties (row 2);
  tq1.w / tq2.w: gguf.quants.quantize(src.w) as TQ1_0 / TQ2_0 (rai's quantizer must match the
  bytes); tq1.w.deq / tq2.w.deq: gguf.quants.dequantize of those (rai's decoder must match);
  tern.trits i8 [3, 768] and tern.scales f32 [3] (f16-exact): tern.tq1 / tern.tq2 hold
  trits * scale quantized by gguf (lossless: rai must recover the trits and scales exactly);
  f16.x, bf16.x (+ bf16.x.f32), norm.w (1-D), f32.3d (3-D), i8.x, i32.x; and metadata of every
  scalar type plus numeric and string arrays.
"""
import os
import sys
from importlib.metadata import version

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q
from gguf.quants import dequantize, quantize

HERE = os.path.dirname(os.path.abspath(__file__))


def source_weights(rng):
    src = rng.standard_normal((4, 512)).astype(np.float32)
    src[1, :256] = 0.0                                                     # d = 0 block
    src[2, :256] = np.tile(np.array([1.0, 0.5, -0.5, 0.25], np.float32), 64)  # lroundf ties
    src[3, 256:] *= np.float32(1e-3)                                       # small scale
    return src


def ternary(rng):
    trits = rng.integers(-1, 2, size=(3, 768)).astype(np.int8)
    scales = np.array([0.015625, 0.5, 3.25], dtype=np.float32)  # exact in f16
    return trits, scales


def write(path, alignment, rng, full):
    w = gguf.GGUFWriter(path, arch="rai-golden")
    if alignment != 32:
        w.add_custom_alignment(alignment)
    w.add_name("rai golden TQ1_0 / TQ2_0")
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 0.1)
    w.add_bool("test.bool", True)
    w.add_uint64("test.u64", 2**63 + 5)
    w.add_int64("test.i64", -(2**62))
    w.add_float64("test.f64", 2.718281828459045)
    w.add_string("test.str", "ternäry ✓")
    w.add_array("test.arr_i32", [1, -2, 3, -4, 5])
    w.add_array("test.arr_str", ["a", "", "bitnet b1.58"])
    w.add_array("test.arr_f32", [0.5, -1.25])

    src = source_weights(rng)
    w.add_tensor("src.w", src)
    for name, qt in (("tq1", Q.TQ1_0), ("tq2", Q.TQ2_0)):
        q = quantize(src, qt)
        w.add_tensor(f"{name}.w", q, raw_dtype=qt)
        w.add_tensor(f"{name}.w.deq", dequantize(q, qt).astype(np.float32))

    trits, scales = ternary(rng)
    values = trits.astype(np.float32) * scales[:, None]
    w.add_tensor("tern.trits", trits)
    w.add_tensor("tern.scales", scales)
    w.add_tensor("tern.tq1", quantize(values, Q.TQ1_0), raw_dtype=Q.TQ1_0)
    w.add_tensor("tern.tq2", quantize(values, Q.TQ2_0), raw_dtype=Q.TQ2_0)

    if full:
        w.add_tensor("f16.x", (rng.standard_normal((5, 3)) * 10).astype(np.float16))
        b = rng.standard_normal(6).astype(np.float32)
        bq = quantize(b, Q.BF16)
        w.add_tensor("bf16.x", bq, raw_dtype=Q.BF16)
        w.add_tensor("bf16.x.f32", dequantize(bq, Q.BF16).astype(np.float32))
        w.add_tensor("norm.w", rng.standard_normal(7).astype(np.float32))
        w.add_tensor("f32.3d", np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 12)
        w.add_tensor("i8.x", np.array([-128, -1, 0, 1, 127], dtype=np.int8))
        w.add_tensor("i32.x", np.array([-(2**31), 0, 2**31 - 1], dtype=np.int32))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    write(os.path.join(HERE, "tq_golden.gguf"), 32, np.random.default_rng(20261122), True)
    write(os.path.join(HERE, "tq_golden_align64.gguf"), 64, np.random.default_rng(7), False)
    with open(os.path.join(HERE, "GOLDEN_VERSIONS.txt"), "w") as f:
        f.write(f"gguf {version('gguf')}\nnumpy {np.__version__}\npython {sys.version.split()[0]}\n")
    print("wrote golden files with gguf", version("gguf"))


if __name__ == "__main__":
    main()
