"""The TQ1_0 / TQ2_0 GGUF files `rai quantize` writes, read by llama.cpp's own Python reader
(gguf-py): tensor types, shapes (GGUF lists them innermost first), and gguf.quants.dequantize's
values equal to the C library's BitNet quantize -> f16 block scales -> trit * scale. Skipped when
this Python has no `gguf` (scripts/requirements.txt installs it into .venv)."""
import os
import shutil
import unittest

import numpy as np

from cli_support import WORKDIR, Library, lib, make_checkpoint, run

try:
    import gguf
    from gguf.quants import dequantize
except ImportError:  # pragma: no cover
    gguf = None


@unittest.skipIf(gguf is None, "gguf-py is not installed (pip install gguf)")
class GgufPyReadsQuantizeOutput(unittest.TestCase):
    def test_tq_files(self):
        d = os.path.join(WORKDIR, "gguf-py")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        src = os.path.join(d, "model.safetensors")
        tensors = make_checkpoint(src)
        rai_lib = Library()
        for fmt, qt in (("tq1_0", gguf.GGMLQuantizationType.TQ1_0), ("tq2_0", gguf.GGMLQuantizationType.TQ2_0)):
            with self.subTest(format=fmt):
                path = os.path.join(d, fmt + ".gguf")
                rc, _, err = run("quantize", src, path, "--format", fmt)
                self.assertEqual(rc, 0, err)
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
                        trits, scales, _ = rai_lib.bitnet(stored, dtype, lib.RAI_BITNET_GRANULARITY_GROUP, 256)
                        f16 = scales.astype(np.float16).astype(np.float32)
                        want = (trits * np.repeat(f16, 256, axis=1)).astype(np.float32)
                        values = dequantize(np.asarray(t.data), qt).reshape(stored.shape)
                        np.testing.assert_array_equal(values, want, err_msg=name)
                    elif dtype in ("F32", "F16"):
                        self.assertEqual(t.tensor_type.name, dtype, name)
                        np.testing.assert_array_equal(np.asarray(t.data).reshape(stored.shape), stored, err_msg=name)
                    elif dtype == "BF16":
                        self.assertEqual(t.tensor_type, gguf.GGMLQuantizationType.BF16, name)
                        self.assertEqual(np.asarray(t.data).tobytes(), stored.tobytes(), name)
                self.assertEqual(n_tq, 3, "q_proj, up_proj and the zero weight are TQ")


if __name__ == "__main__":
    unittest.main()
