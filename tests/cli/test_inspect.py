"""`rai inspect` on the files `rai quantize` writes (safetensors with bitsandbytes and ternary key
groups, GGUF with TQ1_0 / TQ2_0) and on broken files: the --json output parsed back must describe
the file exactly; text output names the same facts; invalid files and groups exit non-zero."""
import json
import os
import shutil
import unittest

import numpy as np

from cli_support import WORKDIR, make_checkpoint, read_safetensors, run, write_safetensors

WEIGHTS = ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.up_proj.weight",
           "model.layers.0.mlp.down_proj.weight", "model.layers.0.odd.weight", "model.layers.1.zero.weight"]
TORCH = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}


class InspectTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = os.path.join(WORKDIR, "inspect")
        shutil.rmtree(cls.dir, ignore_errors=True)
        os.makedirs(cls.dir)
        cls.src = os.path.join(cls.dir, "model.safetensors")
        cls.tensors = {n: (d, a) for n, d, a in make_checkpoint(cls.src)}
        cls.out = {}
        for fmt, ext in (("nf4-dq", "safetensors"), ("fp4", "safetensors"), ("bitnet", "safetensors"),
                         ("i2_s", "safetensors"), ("tq2_0", "gguf"), ("tq1_0", "gguf")):
            path = os.path.join(cls.dir, f"{fmt}.{ext}")
            rc, _, err = run("quantize", cls.src, path, "--format", fmt)
            assert rc == 0, err
            cls.out[fmt] = path

    def inspect_json(self, path):
        rc, stdout, stderr = run("inspect", path, "--json")
        self.assertEqual(rc, 0, stderr)
        return json.loads(stdout)

    def check_tensor_list(self, doc, path):
        st, meta = read_safetensors(path)
        self.assertEqual(doc["format"], "safetensors")
        self.assertEqual(doc["metadata"], meta)
        self.assertEqual({t["name"]: (t["dtype"], tuple(t["shape"]), t["nbytes"]) for t in doc["tensors"]},
                         {k: (v[0], v[1], len(v[2])) for k, v in st.items()})
        self.assertEqual(doc["tensor_bytes"], sum(len(v[2]) for v in st.values()))
        return st

    def test_plain_checkpoint(self):
        doc = self.inspect_json(self.src)
        self.check_tensor_list(doc, self.src)
        self.assertEqual(doc["quantized"], [])
        rc, text, _ = run("inspect", self.src)
        self.assertEqual(rc, 0)
        self.assertIn("safetensors, 10 tensors", text)
        self.assertIn("model.layers.0.self_attn.q_proj.weight", text)
        self.assertNotIn("quantized weights:", text)

    def test_bitsandbytes_groups(self):
        for fmt, qt, nested in (("nf4-dq", "nf4", True), ("fp4", "fp4", False)):
            with self.subTest(format=fmt):
                doc = self.inspect_json(self.out[fmt])
                st = self.check_tensor_list(doc, self.out[fmt])
                groups = {g["weight"]: g for g in doc["quantized"]}
                self.assertEqual(sorted(groups), sorted(WEIGHTS))
                for w, g in groups.items():
                    dtype, arr = self.tensors[w]
                    self.assertEqual((g["quant_type"], g["blocksize"], g["nested"]), (qt, 64, nested), w)
                    self.assertEqual((g["shape"], g["dtype"]), (list(arr.shape), TORCH[dtype]), w)
                    keys = [w, w + ".absmax", w + ".quant_map", w + f".quant_state.bitsandbytes__{qt}"]
                    if nested:
                        keys += [w + ".nested_absmax", w + ".nested_quant_map"]
                        self.assertEqual(g["nested_blocksize"], 256)
                        state = json.loads(st[w + ".quant_state.bitsandbytes__nf4"][2])
                        self.assertEqual(np.float32(g["nested_offset"]), np.float32(state["nested_offset"]))
                    self.assertEqual(sorted(g["keys"]), sorted(keys))
                    self.assertEqual(g["nbytes"], sum(len(st[k][2]) for k in keys))
                rc, text, _ = run("inspect", self.out[fmt])
                self.assertEqual(rc, 0)
                self.assertIn(f"model.layers.0.odd.weight: {qt}, blocksize 64, "
                              + ("double quant (nested blocksize 256)" if nested else "no double quant")
                              + ", shape [7, 99], dtype float32, " + ("6" if nested else "4") + " keys", text)

    def test_ternary_groups(self):
        for fmt, layout, gran, group in (("bitnet", "byte2", "group", 64), ("i2_s", "i2_s", "tensor", None)):
            with self.subTest(format=fmt):
                doc = self.inspect_json(self.out[fmt])
                st = self.check_tensor_list(doc, self.out[fmt])
                groups = {g["weight"]: g for g in doc["quantized"]}
                self.assertEqual(sorted(groups), sorted(w for w in WEIGHTS if "odd" not in w))
                for w, g in groups.items():
                    dtype, arr = self.tensors[w]
                    self.assertEqual((g["quant_type"], g["layout"], g["granularity"]), (fmt, layout, gran))
                    self.assertEqual(g["group_size"], group or arr.shape[1])
                    self.assertEqual((g["shape"], g["dtype"]), (list(arr.shape), TORCH[dtype]))
                    self.assertEqual(g["nbytes"], sum(len(st[k][2]) for k in g["keys"]))
                rc, text, _ = run("inspect", self.out[fmt])
                self.assertIn(f"model.layers.0.mlp.down_proj.weight: {fmt} ({layout} layout), {gran} scales", text)

    def test_gguf(self):
        for fmt in ("tq2_0", "tq1_0"):
            with self.subTest(format=fmt):
                doc = self.inspect_json(self.out[fmt])
                self.assertEqual((doc["format"], doc["version"], doc["alignment"]), ("gguf", 3, 32))
                self.assertEqual(doc["file_size"], os.path.getsize(self.out[fmt]))
                kv = {m["key"]: m for m in doc["metadata"]}
                self.assertEqual(kv["rai.quantize.format"], {"key": "rai.quantize.format", "type": "string",
                                                             "value": fmt})
                self.assertEqual(kv["safetensors.note"]["value"], "rai cli test")
                types = {t["name"]: (t["type"], t["shape"]) for t in doc["tensors"]}
                self.assertEqual(list(types), list(self.tensors))
                for name, (dtype, arr) in self.tensors.items():
                    quantized = name in WEIGHTS and "odd" not in name and "down_proj" not in name
                    want = fmt.upper() if quantized else {"F32": "F32", "F16": "F16", "BF16": "BF16", "I64": "I64"}[dtype]
                    self.assertEqual(types[name], (want, list(arr.shape)), name)
                rc, text, _ = run("inspect", self.out[fmt])
                self.assertEqual(rc, 0)
                self.assertIn("GGUF v3", text)
                self.assertIn(fmt.upper(), text)
                self.assertIn(f'rai.quantize.format (string) = "{fmt}"', text)

    def test_bad_files(self):
        rc, _, err = run("inspect", os.path.join(self.dir, "missing.gguf"))
        self.assertEqual(rc, 1)
        self.assertIn("missing.gguf", err)
        text = os.path.join(self.dir, "notes.txt")
        with open(text, "w") as f:
            f.write("just some text, long enough\n")
        rc, _, err = run("inspect", text)
        self.assertEqual(rc, 1)
        self.assertIn("neither a safetensors file nor a GGUF file", err)
        for fmt in ("nf4-dq", "tq2_0"):
            with open(self.out[fmt], "rb") as f:
                data = f.read()
            cut = os.path.join(self.dir, "cut-" + os.path.basename(self.out[fmt]))
            with open(cut, "wb") as f:
                f.write(data[:-64])
            rc, _, err = run("inspect", cut)
            self.assertEqual(rc, 1, fmt)
            self.assertIn("malformed data", err)
        rc, _, err = run("inspect", self.src, "--bogus")
        self.assertEqual(rc, 2)

    def test_invalid_groups(self):
        st, meta = read_safetensors(self.out["nf4-dq"])
        w = "model.layers.0.odd.weight"
        kept = [(k, v[0], np.frombuffer(v[2], np.uint8)) for k, v in st.items() if k != w + ".absmax"]
        # Raw bytes are written with their own dtype name: reshape to the element count as u8.
        broken = os.path.join(self.dir, "no-absmax.safetensors")
        write_raw(broken, [(k, d, st[k][1], st[k][2]) for k, d, _ in kept], meta)
        rc, stdout, err = run("inspect", broken, "--json")
        self.assertEqual(rc, 1)
        self.assertIn("invalid quantized weight", err)
        self.assertIn("absmax", err)
        groups = {g["weight"]: g for g in json.loads(stdout)["quantized"]}
        self.assertIn("absmax", groups[w]["error"])
        self.assertNotIn("error", groups["model.layers.0.mlp.up_proj.weight"])

        st, meta = read_safetensors(self.out["i2_s"])
        w = "model.layers.1.zero.weight"
        codes = bytearray(st[w][2])
        codes[0] = 0xFF  # I2_S code 3 is not a trit
        broken = os.path.join(self.dir, "bad-i2s.safetensors")
        write_raw(broken, [(k, v[0], v[1], bytes(codes) if k == w else v[2]) for k, v in st.items()], meta)
        rc, stdout, err = run("inspect", broken)
        self.assertEqual(rc, 1)
        self.assertIn(f"{w}: INVALID", stdout)


def write_raw(path, entries, meta):
    """entries: (name, dtype, shape, raw bytes), written as they are."""
    arrays = [(n, d, np.frombuffer(raw, np.uint8)) for n, d, _, raw in entries]
    shapes = {n: s for n, _, s, _ in entries}
    write_safetensors(path, arrays, meta, shapes=shapes)


if __name__ == "__main__":
    unittest.main()
