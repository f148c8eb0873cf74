"""The TQ1_0 / TQ2_0 GGUF files `rai quantize` writes, read by llama.cpp's own readers: its Python
package gguf-py, and its C reader (ggml's gguf.cpp, decoded by ggml's to_float, through
tests/io/gguf/check_with_ggml.c --decode; meson passes its path in RAI_GGML_DECODE). Checked:
tensor order, types, shapes (GGUF lists them innermost first), and decoded values equal to the C
library's BitNet quantize -> f16 block scales -> trit * scale; other tensors kept as stored.
Each reader's test is skipped when that reader is not available (scripts/setup.sh installs gguf
into .venv and fetches the ggml sources)."""
import os
import shutil
import subprocess
import unittest

import numpy as np

from cli_support import WORKDIR, Library, as_f32, lib, make_checkpoint, run

try:
    import gguf
    from gguf.quants import dequantize
except ImportError:  # pragma: no cover
    gguf = None

GGML_DECODE = os.environ.get("RAI_GGML_DECODE")
TQ_FORMATS = ("tq1_0", "tq2_0")


def quantized_files(name):
    """Writes the test checkpoint and `rai quantize`s it to each TQ format. Yields (format,
    path, tensors, expected values {name: f32 array}) for each."""
    d = os.path.join(WORKDIR, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    src = os.path.join(d, "model.safetensors")
    tensors = make_checkpoint(src)
    rai_lib = Library()
    for fmt in TQ_FORMATS:
        path = os.path.join(d, fmt + ".gguf")
        rc, _, err = run("quantize", src, path, "--format", fmt)
        if rc != 0:
            raise AssertionError(f"rai quantize --format {fmt} failed: {err}")
        yield fmt, path, tensors, rai_lib


def ternary_values(rai_lib, stored, dtype):
    """What a TQ tensor must decode to: the library's group-256 ternarization with f16 scales."""
    trits, scales, _ = rai_lib.bitnet(stored, dtype, lib.RAI_BITNET_GRANULARITY_GROUP, 256)
    f16 = scales.astype(np.float16).astype(np.float32)
    return (trits * np.repeat(f16, 256, axis=1)).astype(np.float32)


@unittest.skipIf(gguf is None, "gguf-py is not installed (pip install gguf)")
class GgufPyReadsQuantizeOutput(unittest.TestCase):
    def test_tq_files(self):
        for fmt, path, tensors, rai_lib in quantized_files("gguf-py"):
            with self.subTest(format=fmt):
                qt = gguf.GGMLQuantizationType[fmt.upper()]
                r = gguf.GGUFReader(path)
                self.assertEqual(r.fields["rai.quantize.format"].contents(), fmt)
                got = {t.name: t for t in r.tensors}
                self.assertEqual(list(got), [n for n, _, _ in tensors])
                n_tq = 0
                for name, dtype, stored in tensors:
                    t = got[name]
                    self.assertEqual(tuple(int(x) for x in reversed(t.shape)), stored.shape, name)
                    if t.tensor_type == qt:
                        n_tq += 1
                        values = dequantize(np.asarray(t.data), qt).reshape(stored.shape)
                        np.testing.assert_array_equal(values, ternary_values(rai_lib, stored, dtype), err_msg=name)
                    elif dtype in ("F32", "F16"):
                        self.assertEqual(t.tensor_type.name, dtype, name)
                        np.testing.assert_array_equal(np.asarray(t.data).reshape(stored.shape), stored, err_msg=name)
                    elif dtype == "BF16":
                        self.assertEqual(t.tensor_type, gguf.GGMLQuantizationType.BF16, name)
                        self.assertEqual(np.asarray(t.data).tobytes(), stored.tobytes(), name)
                self.assertEqual(n_tq, 3, "q_proj, up_proj and the zero weight are TQ")


@unittest.skipIf(not GGML_DECODE, "llama.cpp's ggml sources were not fetched (scripts/fetch_ggml.sh)")
class LlamaCppCReaderReadsQuantizeOutput(unittest.TestCase):
    def test_tq_files(self):
        for fmt, path, tensors, rai_lib in quantized_files("ggml-c"):
            with self.subTest(format=fmt):
                out = path + ".f32"
                p = subprocess.run([GGML_DECODE, "--decode", path, out], capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, p.stderr)
                index = [line.split() for line in p.stdout.splitlines()]
                self.assertEqual([row[0] for row in index], [n for n, _, _ in tensors])
                decoded = np.fromfile(out, np.float32)
                at, n_tq = 0, 0
                for (name, dtype, stored), (_, type_name, *ne) in zip(tensors, index):
                    ne = [int(x) for x in ne]
                    shape = tuple(reversed([x for x in ne[:stored.ndim]]))
                    self.assertEqual(shape, stored.shape, name)
                    self.assertEqual(int(np.prod(ne)), stored.size, name)
                    values = decoded[at:at + stored.size].reshape(stored.shape)
                    at += stored.size
                    if type_name == fmt:
                        n_tq += 1
                        np.testing.assert_array_equal(values, ternary_values(rai_lib, stored, dtype), err_msg=name)
                    else:
                        self.assertEqual(type_name, dtype.lower(), name)
                        np.testing.assert_array_equal(values, as_f32(dtype, stored), err_msg=name)
                self.assertEqual(at, decoded.size)
                self.assertEqual(n_tq, 3, "q_proj, up_proj and the zero weight are TQ")


if __name__ == "__main__":
    unittest.main()
