"""Bad input to `rai quantize`: each case exits non-zero with a message naming the problem, and
leaves no output (nor temporary file) behind; an existing output file is left untouched."""
import os
import shutil
import unittest

import numpy as np

from cli_support import WORKDIR, make_checkpoint, read_safetensors, run, write_safetensors


class QuantizeErrorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = os.path.join(WORKDIR, "errors")
        shutil.rmtree(cls.dir, ignore_errors=True)
        os.makedirs(cls.dir)
        cls.src = os.path.join(cls.dir, "model.safetensors")
        make_checkpoint(cls.src)
        with open(cls.src, "rb") as f:
            data = f.read()
        cls.truncated = os.path.join(cls.dir, "truncated.safetensors")
        with open(cls.truncated, "wb") as f:
            f.write(data[: len(data) - 100])
        cls.extras = os.path.join(cls.dir, "extras.safetensors")  # dtypes GGUF has no type for
        write_safetensors(cls.extras, [("x.weight", "F32", np.ones((4, 256), np.float32)),
                                       ("mask", "BOOL", np.array([True, False, True])),
                                       ("ids", "U8", np.arange(9, dtype=np.uint8).reshape(3, 3))])

    def fails(self, code, message, *args, out="out.bin"):
        out_path = os.path.join(self.dir, out)
        before = sorted(os.listdir(self.dir))
        rc, stdout, stderr = run("quantize", *args[:1], out_path, *args[1:])
        self.assertEqual(rc, code, f"{args}: {stderr}")
        self.assertIn(message, stderr, args)
        self.assertTrue(stderr.startswith("rai quantize: "), stderr)
        self.assertEqual(sorted(os.listdir(self.dir)), before, f"{args}: files left behind")
        return stderr

    def test_input_problems(self):
        missing = os.path.join(self.dir, "missing.safetensors")
        self.fails(1, missing, missing, "--format", "nf4")
        self.fails(1, self.truncated, self.truncated, "--format", "nf4")
        self.fails(1, "malformed data", self.truncated, "--format", "nf4")

    def test_usage_problems(self):
        self.fails(2, "unknown --format 'q3_k'", self.src, "--format", "q3_k")
        self.fails(2, "--format is required", self.src)
        self.fails(2, "bad --include regular expression '('", self.src, "--format", "nf4", "--include", "(")
        self.fails(2, "bad --exclude regular expression '[a'", self.src, "--format", "nf4", "--exclude", "[a")
        self.fails(2, "--blocksize must be a power of two from 32 to 4096, got 48", self.src, "--format", "nf4",
                   "--blocksize", "48")
        self.fails(2, "--blocksize takes a number", self.src, "--format", "nf4", "--blocksize", "x")
        self.fails(2, "--blocksize applies to the 4-bit formats", self.src, "--format", "bitnet", "--blocksize", "64")
        self.fails(2, "--granularity and --group-size apply to the ternary formats", self.src, "--format", "nf4",
                   "--granularity", "row")
        self.fails(2, "--group-size must be a multiple of 256, got 64", self.src, "--format", "tq2_0",
                   "--group-size", "64")
        self.fails(2, "i2_s holds one scale per tensor", self.src, "--format", "i2_s", "--granularity", "row")
        self.fails(2, "--group-size needs --granularity group", self.src, "--format", "bitnet", "--granularity",
                   "row", "--group-size", "64")
        self.fails(2, "unknown option '--bogus'", self.src, "--format", "nf4", "--bogus")

    def test_selection_problems(self):
        self.fails(1, 'tensor "model.step" is I64; only F32, F16 and BF16', self.src, "--format", "nf4",
                   "--include", "step")
        self.fails(1, 'tensor "model.layers.0.odd.weight": group size 64 does not divide in = 99', self.src,
                   "--format", "bitnet", "--include", "odd")
        self.fails(1, 'tensor "model.norm.weight": ternary weights are non-empty 2-D', self.src, "--format",
                   "tq2_0", "--include", "norm")
        self.fails(1, 'tensor "model.layers.0.self_attn.q_proj.bias": bitsandbytes 4-bit keys need a name ending',
                   self.src, "--format", "nf4", "--include", "bias")
        self.fails(1, "mask: dtype BOOL has no GGUF tensor type", self.extras, "--format", "tq1_0",
                   out="x.gguf")

    def test_existing_output_is_untouched_on_error(self):
        out = os.path.join(self.dir, "existing.safetensors")
        with open(out, "wb") as f:
            f.write(b"keep me")
        self.fails(1, "is I64", self.src, "--format", "nf4", "--include", "step", out="existing.safetensors")
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"keep me")
        os.remove(out)

    def test_unwritable_output(self):
        rc, _, stderr = run("quantize", self.src, os.path.join(self.dir, "no-such-dir", "o.safetensors"),
                            "--format", "nf4")
        self.assertEqual(rc, 1)
        self.assertIn("no-such-dir", stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "no-such-dir")))

    def test_raw_dtypes_are_copied_byte_for_byte(self):
        out = os.path.join(self.dir, "extras-nf4.safetensors")
        rc, _, stderr = run("quantize", self.extras, out, "--format", "nf4")
        self.assertEqual(rc, 0, stderr)
        got, _ = read_safetensors(out)
        src, _ = read_safetensors(self.extras)
        self.assertEqual(got["mask"], src["mask"])
        self.assertEqual(got["ids"], src["ids"])
        self.assertIn("x.weight.quant_state.bitsandbytes__nf4", got)
        os.remove(out)


if __name__ == "__main__":
    unittest.main()
