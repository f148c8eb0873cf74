"""`rai quantize` on a generated checkpoint, one test per output format: the file opens, the
documented keys / dtypes / shapes are there, the stored values decoded here with numpy equal the
C library's own quantize -> dequantize of the same tensor exactly, tensors that were not selected
are byte-identical, and the printed summary agrees with the files."""
import json
import os
import re
import unittest

import numpy as np

from cli_support import (WORKDIR, Library, array_of, as_f32, lib, make_checkpoint, read_safetensors,
                         relative_rms, run)

Q4_CASES = {"nf4": (2, False), "fp4": (1, False), "nf4-dq": (2, True)}
ALL_WEIGHTS = ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.up_proj.weight",
               "model.layers.0.mlp.down_proj.weight", "model.layers.0.odd.weight", "model.layers.1.zero.weight"]
# What the default rule picks and each format can hold (see make_checkpoint).
EXPECTED = {
    "q4": ALL_WEIGHTS,
    "bitnet": [w for w in ALL_WEIGHTS if "odd" not in w],
    "i2_s": [w for w in ALL_WEIGHTS if "odd" not in w],
    "tq": [w for w in ALL_WEIGHTS if "odd" not in w and "down_proj" not in w],
}


def parse_summary(text):
    m = {
        "quantized": re.search(r"^quantized: (\d+) tensors, (\d+) -> (\d+) bytes", text, re.M),
        "copied": re.search(r"^copied: (\d+) tensors, (\d+) bytes", text, re.M),
        "file": re.search(r"^file: (\d+) -> (\d+) bytes \(([0-9.]+)x\)", text, re.M),
        "error": re.search(r"^mean relative RMS error: ([0-9.]+) over (\d+) tensors", text, re.M),
    }
    missing = [k for k, v in m.items() if v is None]
    assert not missing, f"summary lacks {missing}:\n{text}"
    return {k: [float(g) for g in v.groups()] for k, v in m.items()}


def decode_q4(out, weight, shape, quant_type):
    """Values of a bitsandbytes key group, decoded as bitsandbytes does."""
    n = int(np.prod(shape))
    state = json.loads(out[weight + ".quant_state.bitsandbytes__" + quant_type][2])
    codes = array_of(out[weight]).ravel()
    nib = np.empty(codes.size * 2, np.uint8)
    nib[0::2], nib[1::2] = codes >> 4, codes & 15
    qmap = array_of(out[weight + ".quant_map"])
    absmax = array_of(out[weight + ".absmax"])
    if "nested_offset" in state:
        nested = array_of(out[weight + ".nested_absmax"])
        nmap = array_of(out[weight + ".nested_quant_map"])
        blocks = np.arange(absmax.size)
        absmax = (nmap[absmax] * nested[blocks // 256]).astype(np.float32) + np.float32(state["nested_offset"])
    block = np.arange(n) // state["blocksize"]
    return (qmap[nib[:n]] * absmax[block]).astype(np.float32).reshape(shape), state


class QuantizeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = os.path.join(WORKDIR, "quantize")
        os.makedirs(cls.dir, exist_ok=True)
        cls.src = os.path.join(cls.dir, "model.safetensors")
        cls.tensors = make_checkpoint(cls.src)
        cls.by_name = {name: (dtype, arr) for name, dtype, arr in cls.tensors}
        cls.lib = Library()

    def quantize(self, fmt, *extra, out_name=None):
        out = os.path.join(self.dir, out_name or f"out-{fmt}.{'gguf' if fmt.startswith('tq') else 'safetensors'}")
        if os.path.exists(out):
            os.remove(out)
        rc, stdout, stderr = run("quantize", self.src, out, "--format", fmt, *extra)
        self.assertEqual(rc, 0, stderr)
        return out, stdout, stderr

    def check_summary(self, stdout, out_path, quantized, out_bytes_of_quantized, errors):
        s = parse_summary(stdout)
        self.assertEqual(int(s["quantized"][0]), len(quantized))
        self.assertEqual(int(s["quantized"][1]), sum(self.by_name[w][1].nbytes for w in quantized))
        self.assertEqual(int(s["quantized"][2]), out_bytes_of_quantized)
        self.assertEqual(int(s["copied"][0]), len(self.tensors) - len(quantized))
        self.assertEqual(int(s["copied"][1]),
                         sum(a.nbytes for n, _, a in self.tensors if n not in quantized))
        self.assertEqual(int(s["file"][0]), os.path.getsize(self.src))
        self.assertEqual(int(s["file"][1]), os.path.getsize(out_path))
        self.assertAlmostEqual(s["file"][2], os.path.getsize(self.src) / os.path.getsize(out_path), places=2)
        self.assertEqual(int(s["error"][1]), len(quantized))
        self.assertAlmostEqual(s["error"][0], float(np.mean(errors)), delta=2e-6)

    def check_copies(self, out, quantized):
        src, _ = read_safetensors(self.src)
        for name, entry in src.items():
            if name not in quantized:
                self.assertEqual(out[name], entry, f"{name} must be copied byte for byte")

    def test_q4_formats(self):
        for fmt, (qtype, dq) in Q4_CASES.items():
            for blocksize in (64, 128):
                with self.subTest(format=fmt, blocksize=blocksize):
                    extra = () if blocksize == 64 else ("--blocksize", str(blocksize))
                    path, stdout, stderr = self.quantize(fmt, *extra)
                    self.assertEqual(stderr, "", "no progress output when stderr is not a terminal")
                    out, meta = read_safetensors(path)
                    self.assertEqual(meta, {"format": "pt", "note": "rai cli test", "rai.quantize.format": fmt})
                    errors, group_bytes = [], 0
                    for w in EXPECTED["q4"]:
                        dtype, stored = self.by_name[w]
                        n = stored.size
                        blocks = -(-n // blocksize)
                        self.assertEqual(out[w][:2], ("U8", ((n + 1) // 2, 1)))
                        self.assertEqual(out[w + ".absmax"][:2], ("U8" if dq else "F32", (blocks,)))
                        self.assertEqual(out[w + ".quant_map"][:2], ("F32", (16,)))
                        if dq:
                            self.assertEqual(out[w + ".nested_absmax"][:2], ("F32", (-(-blocks // 256),)))
                            self.assertEqual(out[w + ".nested_quant_map"][:2], ("F32", (256,)))
                        else:
                            self.assertNotIn(w + ".nested_absmax", out)
                        got, state = decode_q4(out, w, stored.shape, "fp4" if qtype == 1 else "nf4")
                        self.assertEqual(state["quant_type"], "fp4" if qtype == 1 else "nf4")
                        self.assertEqual(state["blocksize"], blocksize)
                        self.assertEqual(state["shape"], list(stored.shape))
                        self.assertEqual(state["dtype"], {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype])
                        codes, want = self.lib.q4_roundtrip(stored, dtype, qtype, blocksize, dq)
                        self.assertEqual(array_of(out[w]).tobytes(), codes.tobytes(), f"{w}: codes")
                        np.testing.assert_array_equal(got, want, err_msg=f"{w}: decoded values")
                        np.testing.assert_array_equal(self.lib.q4_load_bnb(path, w[:-7], stored.shape), want)
                        errors.append(relative_rms(as_f32(dtype, stored), want))
                        group_bytes += sum(len(e[2]) for k, e in out.items() if k == w or k.startswith(w + "."))
                    self.check_copies(out, EXPECTED["q4"])
                    self.check_summary(stdout, path, EXPECTED["q4"], group_bytes, errors)
                    # NF4 on N(0, 1)-like data: about 0.09 (docs/quant.md); the zero tensor gives 0.
                    self.assertLess(max(errors), 0.2)

    def decode_byte2(self, packed, rows, cols):
        codes = np.stack([(packed >> (2 * k)) & 3 for k in range(4)], axis=-1).reshape(rows, -1)[:, :cols]
        self.assertFalse(np.any(codes == 3), "BYTE2 code 3 is never written")
        return np.where(codes == 1, 1, np.where(codes == 2, -1, 0)).astype(np.int8)

    def decode_i2s(self, raw, rows, cols):
        n = rows * cols
        b = np.frombuffer(raw[: n // 4], np.uint8).reshape(-1, 32)
        codes = np.stack([(b >> s) & 3 for s in (6, 4, 2, 0)], axis=1).reshape(-1)  # p, p+32, p+64, p+96
        self.assertEqual(raw[n // 4 + 4:], bytes(28), "I2_S tail after the scale is zero")
        scale = np.frombuffer(raw[n // 4:n // 4 + 4], np.float32)
        return (codes.astype(np.int8) - 1).reshape(rows, cols), scale

    def test_bitnet_and_i2s(self):
        G = lib.RAI_BITNET_GRANULARITY_GROUP, lib.RAI_BITNET_GRANULARITY_ROW, lib.RAI_BITNET_GRANULARITY_TENSOR
        cases = [("bitnet", (), G[0], 64), ("bitnet", ("--granularity", "row"), G[1], 0),
                 ("bitnet", ("--group-size", "128"), G[0], 128), ("i2_s", (), G[2], 0)]
        for fmt, extra, gran, group in cases:
            with self.subTest(format=fmt, options=extra):
                path, stdout, stderr = self.quantize(fmt, *extra)
                out, meta = read_safetensors(path)
                self.assertEqual(meta["rai.quantize.format"], fmt)
                # Groups must divide in; row scales hold any 2-D weight; I2_S needs out*in % 128 == 0.
                expected = [w for w in EXPECTED[fmt] if group == 0 or self.by_name[w][1].shape[1] % group == 0]
                if fmt == "bitnet" and gran == G[1]:
                    expected = ALL_WEIGHTS
                for w in set(ALL_WEIGHTS) - set(expected):
                    self.assertIn(f'keeping "{w}"', stderr, "a weight the format cannot hold is named on stderr")
                errors, group_bytes = [], 0
                for w in expected:
                    dtype, stored = self.by_name[w]
                    rows, cols = stored.shape
                    state = json.loads(out[w + ".quant_state.rai_ternary"][2])
                    self.assertEqual(state["shape"], [rows, cols])
                    self.assertEqual(state["dtype"], {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype])
                    trits, scales, want = self.lib.bitnet(stored, dtype, gran, group)
                    if fmt == "bitnet":
                        self.assertEqual(state["layout"], "byte2")
                        self.assertEqual(out[w][:2], ("U8", (rows, -(-cols // 4))))
                        got_trits = self.decode_byte2(array_of(out[w]), rows, cols)
                        got_scales = array_of(out[w + ".scale"])
                        self.assertEqual(out[w + ".scale"][:2], ("F32", scales.shape))
                        self.assertEqual(state["granularity"], {G[0]: "group", G[1]: "row"}[gran])
                        self.assertEqual(state["group_size"], group if gran == G[0] else cols)
                    else:
                        self.assertEqual(state["layout"], "i2_s")
                        self.assertEqual((state["granularity"], state["group_size"]), ("tensor", cols))
                        self.assertEqual(out[w][:2], ("U8", (rows * cols // 4 + 32,)))
                        self.assertNotIn(w + ".scale", out)
                        got_trits, got_scales = self.decode_i2s(out[w][2], rows, cols)
                    np.testing.assert_array_equal(got_trits, trits, err_msg=f"{w}: trits")
                    np.testing.assert_array_equal(got_scales, scales, err_msg=f"{w}: scales")
                    if gran == G[0]:
                        per_col = np.repeat(got_scales, cols // got_scales.shape[1], axis=1)
                    else:
                        per_col = got_scales.reshape(-1, 1)  # [rows] -> one per row; [1] broadcasts
                    np.testing.assert_array_equal((got_trits * per_col).astype(np.float32), want, err_msg=w)
                    errors.append(relative_rms(as_f32(dtype, stored), want))
                    group_bytes += sum(len(e[2]) for k, e in out.items() if k == w or k.startswith(w + "."))
                self.check_copies(out, expected)
                self.check_summary(stdout, path, expected, group_bytes, errors)

    def test_tq_formats_in_gguf(self):
        for fmt, ggml_type in (("tq2_0", 35), ("tq1_0", 34)):
            with self.subTest(format=fmt):
                path, stdout, stderr = self.quantize(fmt)
                self.assertIn('keeping "model.layers.0.mlp.down_proj.weight"', stderr)
                got = self.lib.gguf_tensors(path)
                self.assertEqual(list(got), [n for n, _, _ in self.tensors], "tensor order is kept")
                errors, group_bytes = [], 0
                for name, dtype, stored in self.tensors:
                    t, shape, values, raw = got[name]
                    self.assertEqual(shape, stored.shape, name)
                    if name in EXPECTED["tq"]:
                        self.assertEqual(t, ggml_type, name)
                        rows, cols = stored.shape
                        self.assertEqual(len(raw), rows * cols // 256 * (54 if fmt == "tq1_0" else 66))
                        trits, scales, _ = self.lib.bitnet(stored, dtype, lib.RAI_BITNET_GRANULARITY_GROUP, 256)
                        f16 = scales.astype(np.float16).astype(np.float32)  # TQ stores f16 block scales
                        want = (trits * np.repeat(f16, 256, axis=1)).astype(np.float32)
                        np.testing.assert_array_equal(values, want, err_msg=name)
                        errors.append(relative_rms(as_f32(dtype, stored), want))
                        group_bytes += len(raw)
                    else:  # copied: the same values in the GGUF type of the dtype
                        self.assertEqual(t, {"F32": 0, "F16": 1, "BF16": 30, "I64": 27}[dtype], name)
                        self.assertEqual(raw, stored.tobytes(), name)
                self.check_summary(stdout, path, EXPECTED["tq"], group_bytes, errors)

    def test_verbose_lists_every_tensor(self):
        _, stdout, stderr = self.quantize("nf4", "--verbose", out_name="verbose.safetensors")
        lines = stderr.splitlines()
        self.assertEqual(len(lines), len(self.tensors), stderr)
        for (name, _, _), line in zip(self.tensors, lines):
            verb = "quantized" if name in EXPECTED["q4"] else "copied"
            self.assertTrue(line.startswith(verb) and f" {name} " in line, line)

    def test_filters(self):
        _, stdout, _ = self.quantize("nf4", "--include", r"mlp\.", out_name="include.safetensors")
        self.assertEqual(parse_summary(stdout)["quantized"][0], 2)
        out, _ = read_safetensors(os.path.join(self.dir, "include.safetensors"))
        self.assertIn("model.layers.0.mlp.up_proj.weight.absmax", out)
        self.assertIn("model.layers.0.mlp.down_proj.weight.absmax", out)
        self.assertEqual(out["model.layers.0.self_attn.q_proj.weight"][0], "BF16")

        _, stdout, _ = self.quantize("nf4", "--exclude", "q_proj|zero", out_name="exclude.safetensors")
        self.assertEqual(parse_summary(stdout)["quantized"][0], 3)
        out, _ = read_safetensors(os.path.join(self.dir, "exclude.safetensors"))
        self.assertNotIn("model.layers.0.self_attn.q_proj.weight.absmax", out)
        self.assertIn("model.layers.0.odd.weight.absmax", out)

        # --include replaces the default rule: 1-D norms and lm_head can be asked for by name.
        _, stdout, _ = self.quantize("nf4", "--include", r"^(model\.norm|lm_head)\.weight$",
                                     "--exclude", "lm_head", out_name="norm.safetensors")
        self.assertEqual(parse_summary(stdout)["quantized"][0], 1)
        out, _ = read_safetensors(os.path.join(self.dir, "norm.safetensors"))
        self.assertEqual(out["model.norm.weight"][:2], ("U8", (128, 1)))
        self.assertEqual(out["lm_head.weight"][0], "F32")

        _, stdout, stderr = self.quantize("bitnet", "--include", "nothing-matches", out_name="none.safetensors")
        self.assertIn("no tensor was quantized", stderr)
        self.assertIn("mean relative RMS error: n/a", stdout)
        self.check_copies(read_safetensors(os.path.join(self.dir, "none.safetensors"))[0], [])


if __name__ == "__main__":
    unittest.main()
