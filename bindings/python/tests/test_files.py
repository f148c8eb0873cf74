"""rai.files: safetensors reader / writer (every dtype, metadata, zero-copy views, bitsandbytes
4-bit keys written byte-identically to bitsandbytes' own file) and GGUF writer / reader (every
metadata type, tensors, TQ1_0 / TQ2_0 against gguf-py's golden file), plus the error paths."""

import os
import tempfile
import unittest

import rai
from rai import bitnet, files, quant4

from rai_test_support import SOURCE_ROOT, module_fixture, np, requires_numpy

BNB_GOLDEN = os.path.join(SOURCE_ROOT, "tests", "quant", "golden", "bnb_linear4bit.safetensors")
GGUF_GOLDEN = os.path.join(SOURCE_ROOT, "tests", "io", "gguf", "golden", "tq_golden.gguf")


setUpModule, tearDownModule = module_fixture(globals())


class TempDir(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)


@requires_numpy
class Safetensors(TempDir):
    def sample(self):
        rng = np.random.default_rng(51)
        return {"f32": rng.standard_normal((3, 5)).astype(np.float32),
                "f64": rng.standard_normal(7),
                "f16": rng.standard_normal((2, 2)).astype(np.float16),
                "i8": np.arange(-4, 5, dtype=np.int8),
                "u8": np.arange(31, dtype=np.uint8),
                "i32": np.arange(33, dtype=np.int32).reshape(3, 11),
                "i64": np.array([2**40, -1], np.int64),
                "u64": np.array([2**63], np.uint64),
                "scalar": np.array(1.5, np.float32)}

    def test_round_trip_every_dtype(self):
        tensors = self.sample()
        bf16 = np.array([0x3F80, 0xC000, 0x0000], np.uint16)
        with files.SafetensorsWriter() as w:
            for name, array in tensors.items():
                w.add(name, array)
            w.add("bf16", bf16, dtype="bf16")
            w.add("strided", tensors["f32"][:, ::2])  # any strides: copied row-major
            w.add_raw("mask", "BOOL", (4,), bytes([1, 0, 0, 1]))
            w.add_raw("i16", "I16", (2,), np.array([-2, 300], np.int16).tobytes())
            w.metadata.update({"format": "pt", "note": "héllo"})
            w.save(self.path("a.safetensors"))
            data = w.to_bytes()
        with open(self.path("a.safetensors"), "rb") as f:
            self.assertEqual(f.read(), data)
        header = int.from_bytes(data[:8], "little")
        self.assertEqual(header % 8, 0)  # header padded to a multiple of 8
        for source in (files.SafetensorsFile(self.path("a.safetensors")), files.SafetensorsFile.from_bytes(data)):
            with source as f:
                self.assertEqual(len(f), len(tensors) + 4)
                for name, array in tensors.items():
                    got = f[name]
                    self.assertEqual((got.dtype, got.shape), (array.dtype, array.shape), name)
                    np.testing.assert_array_equal(got, array)
                np.testing.assert_array_equal(f["bf16"], bf16)
                self.assertEqual(f.info("bf16").dtype_name, "BF16")
                self.assertEqual(f.info("bf16").dtype, "bf16")
                np.testing.assert_array_equal(f["strided"], tensors["f32"][:, ::2])
                self.assertEqual(f["mask"].tolist(), [True, False, False, True])
                self.assertIsNone(f.info("mask").dtype)
                self.assertEqual(f["i16"].tolist(), [-2, 300])
                self.assertEqual(f.metadata, {"format": "pt", "note": "héllo"})
                self.assertEqual(f.metadata_get("note"), "héllo")
                self.assertIsNone(f.metadata_get("absent"))
                self.assertIn("f32", f)
                self.assertNotIn("nope", f)
                info = f.info("i32")
                self.assertEqual((info.shape, info.nbytes, info.dtype), ((3, 11), 132, "i32"))
                self.assertEqual(sorted(f), sorted(list(tensors) + ["bf16", "strided", "mask", "i16"]))
                offsets = [f.info(i).data_offset for i in range(len(f))]
                self.assertEqual(offsets, sorted(offsets))  # file order
                # largest element size first: every tensor aligned to its element size
                for name in f:
                    i = f.info(name)
                    self.assertEqual(i.data_offset % max(1, f[name].itemsize), 0, name)
                v = f.view("i32")
                self.assertTrue(v.readonly)
                np.testing.assert_array_equal(np.asarray(v), tensors["i32"])
                with self.assertRaises(rai.DTypeMismatchError):
                    f.view("mask")
                with self.assertRaises(KeyError):
                    f["nope"]
                with self.assertRaises(IndexError):
                    f.info(len(f))
        loaded = files.load_safetensors(self.path("a.safetensors"))
        self.assertEqual(len(loaded), len(tensors) + 4)
        np.testing.assert_array_equal(loaded["i64"], tensors["i64"])

    def test_convenience_functions_and_dlpack_input(self):
        t = {"x": np.arange(6, dtype=np.float32).reshape(2, 3)}
        files.save_safetensors(self.path("b.safetensors"), t, {"k": "v"})
        got = files.load_safetensors(self.path("b.safetensors"))
        np.testing.assert_array_equal(got["x"], t["x"])
        with files.SafetensorsWriter() as w:
            w.add("y", rai.as_tensor(t["x"]))  # a rai Tensor (DLPack producers take the same path)
            self.assertEqual(files.SafetensorsFile.from_bytes(w.to_bytes())["y"].tolist(), t["x"].tolist())

    def test_errors(self):
        with self.assertRaises(rai.InputOutputError) as cm:
            files.SafetensorsFile(self.path("missing.safetensors"))
        self.assertIn("missing.safetensors", cm.exception.message)
        with files.SafetensorsWriter() as w:
            w.add("a", np.zeros(4, np.float32))
            good = w.to_bytes()
            with self.assertRaises(rai.InvalidArgumentError) as cm:
                w.add("a", np.zeros(1, np.float32))
            self.assertIn("a", cm.exception.message)
            with self.assertRaises(rai.InvalidArgumentError):
                w.add("__metadata__", np.zeros(1, np.float32))
            with self.assertRaises(rai.InvalidArgumentError):
                w.add_raw("r", "BOOL", (3,), b"\x00\x01")  # nbytes != count * size
            with self.assertRaises(TypeError):
                w.add(3, np.zeros(1))
            with self.assertRaises(rai.InputOutputError):
                w.save(os.path.join(self.dir, "no", "such", "dir.safetensors"))
            w.metadata["bad"] = 3
            with self.assertRaises(TypeError):
                w.to_bytes()
        for bad in (good[:-1], good[:7], b"\xff" * 8 + good[8:]):
            with self.assertRaises(rai.FormatError):
                files.SafetensorsFile.from_bytes(bad)
        corrupt = bytearray(good)
        corrupt[8:9] = b"["
        with self.assertRaises(rai.FormatError):
            files.SafetensorsFile.from_bytes(bytes(corrupt))
        f = files.SafetensorsFile.from_bytes(good)
        f.close()
        with self.assertRaises(ValueError):
            len(f)


@requires_numpy
class Bitsandbytes4bit(TempDir):
    def test_golden_checkpoint_saves_back_byte_identically(self):
        with files.SafetensorsFile(BNB_GOLDEN) as ck, files.SafetensorsWriter() as w:
            prefixes = ("model.layers.0.mlp.down_proj", "model.layers.0.self_attn.q_proj")
            for prefix in prefixes:
                with ck.load_4bit(prefix) as state:
                    w.add_4bit(prefix, state)
                    w.add(prefix + ".bias", ck.view(prefix + ".bias"))
            w.metadata["format"] = "pt"
            with files.SafetensorsFile.from_bytes(w.to_bytes()) as back:
                self.assertEqual(sorted(back), sorted(ck))
                for name in ck:
                    self.assertEqual(back.info(name).dtype_name, ck.info(name).dtype_name, name)
                    self.assertEqual(back.info(name).shape, ck.info(name).shape, name)
                    self.assertEqual(back[name].tobytes(), ck[name].tobytes(), name)

    def test_quantize_save_load_round_trip(self):
        rng = np.random.default_rng(52)
        w = rng.standard_normal((24, 64)).astype(np.float32)
        for qt, dq in (("nf4", True), ("fp4", False)):
            with quant4.quantize_4bit(w, qt, 64, compress_statistics=dq) as st, files.SafetensorsWriter() as wr:
                wr.add_4bit("layer", st)
                wr.save(self.path("q.safetensors"))
                with files.SafetensorsFile(self.path("q.safetensors")) as f:
                    key = f"layer.weight.quant_state.bitsandbytes__{qt}"
                    self.assertIn(key, f)
                    self.assertEqual(("layer.weight.nested_absmax" in f), dq)
                    self.assertEqual(f.info("layer.weight").shape, ((24 * 64 + 1) // 2, 1))
                    import json
                    meta = json.loads(f[key].tobytes().decode())
                    self.assertEqual((meta["quant_type"], meta["blocksize"], meta["shape"]), (qt, 64, [24, 64]))
                    with f.load_4bit("layer") as back:
                        np.testing.assert_array_equal(quant4.dequantize_4bit(back), quant4.dequantize_4bit(st))

    def test_missing_keys(self):
        with files.SafetensorsFile(BNB_GOLDEN) as ck:
            with self.assertRaises(rai.FormatError) as cm:
                ck.load_4bit("model.layers.1.mlp.down_proj")
            self.assertIn("model.layers.1.mlp.down_proj", cm.exception.message)
        with files.SafetensorsWriter() as w:
            w.add("layer.weight", np.zeros((4, 1), np.uint8))
            with files.SafetensorsFile.from_bytes(w.to_bytes()) as f:
                with self.assertRaises(rai.FormatError) as cm:
                    f.load_4bit("layer")
                self.assertIn("layer.weight", cm.exception.message)


@requires_numpy
class Gguf(TempDir):
    def test_metadata_round_trip(self):
        with files.GGUFWriter() as w:
            w.add_kv("general.name", "demo")
            w.add_kv("u32", 7)
            w.add_kv("i32", -7)
            w.add_kv("big", 2**40)
            w.add_kv("f32", 1.5)
            w.add_kv("flag", True)
            for kind, value in (("uint8", 200), ("int8", -100), ("uint16", 60000), ("int16", -30000),
                                ("uint64", 2**64 - 1), ("float64", 0.1)):
                w.add_kv("t." + kind, value, type=kind)
            w.add_kv("np.i64", np.int64(-3))
            w.add_kv("arr.f32", [1.0, 2.5])
            w.add_kv("arr.i32", np.array([1, -2, 3], np.int32))
            w.add_kv("arr.u8", [1, 2], type="uint8")
            w.add_kv("arr.str", ["a", "bc", ""])
            w.add_kv("general.alignment", 64, type="uint32")
            w.add_tensor("x", np.arange(4, dtype=np.float32))
            w.write(self.path("m.gguf"))
        with files.GGUFReader(self.path("m.gguf")) as r:
            info = r.info
            self.assertEqual((info.version, info.kv_count, info.tensor_count, info.alignment), (3, 18, 1, 64))
            self.assertEqual(info.data_offset % 64, 0)
            self.assertEqual(info.file_size, os.path.getsize(self.path("m.gguf")))
            kv = r.kv
            self.assertEqual(kv["general.name"], "demo")
            self.assertEqual((kv["u32"], kv["i32"], kv["big"], kv["f32"], kv["flag"]), (7, -7, 2**40, 1.5, True))
            self.assertEqual(r.kv_type("u32"), ("uint32", None))
            self.assertEqual(r.kv_type("i32"), ("int32", None))
            self.assertEqual(r.kv_type("big"), ("int64", None))
            self.assertEqual(r.kv_type("f32"), ("float32", None))
            self.assertEqual(r.kv_type("np.i64"), ("int64", None))
            for kind, value in (("uint8", 200), ("int8", -100), ("uint16", 60000), ("int16", -30000),
                                ("uint64", 2**64 - 1), ("float64", 0.1)):
                self.assertEqual(kv["t." + kind], value)
                self.assertEqual(r.kv_type("t." + kind), (kind, None))
            self.assertEqual(kv["arr.f32"].dtype, np.float32)
            self.assertEqual(kv["arr.f32"].tolist(), [1.0, 2.5])
            self.assertEqual(kv["arr.i32"].tolist(), [1, -2, 3])
            self.assertEqual(r.kv_type("arr.u8"), ("array", "uint8"))
            self.assertEqual(kv["arr.str"], ["a", "bc", ""])
            self.assertEqual(r.kv_type("arr.str"), ("array", "string"))
            with self.assertRaises(KeyError):
                r.kv_type("absent")

    def test_tensors(self):
        rng = np.random.default_rng(53)
        f32 = rng.standard_normal((3, 4)).astype(np.float32)
        cube = rng.standard_normal((2, 3, 4)).astype(np.float32)
        x256 = rng.standard_normal((2, 512)).astype(np.float32)
        trits = rng.integers(-1, 2, (3, 256)).astype(np.int8)
        scales = np.array([0.5, 0.25, 2.0], np.float32)
        with files.GGUFWriter() as w:
            w.add_tensor("f32", f32)
            w.add_tensor("as_f16", f32, "f16")
            w.add_tensor("as_bf16", f32, "bf16")
            w.add_tensor("cube", cube)
            w.add_tensor("i8", np.arange(-3, 4, dtype=np.int8))
            w.add_tensor("i32", np.arange(5, dtype=np.int32))
            w.add_tensor("i64", np.arange(2, dtype=np.int64))
            w.add_tensor("f64", np.array([0.1, 0.2]))
            w.add_tensor("tq1", x256, "tq1_0")
            w.add_tensor("tq2", x256, "TQ2_0")
            w.add_ternary("tern1", trits, scales, "tq1_0", exact_scales=True)
            w.add_ternary("tern2", trits, scales)
            w.write(self.path("t.gguf"))
        with files.GGUFReader(self.path("t.gguf")) as r:
            names = [t.name for t in r.tensors]
            self.assertEqual(names, ["f32", "as_f16", "as_bf16", "cube", "i8", "i32", "i64", "f64", "tq1", "tq2",
                                     "tern1", "tern2"])
            ti = r.tensor_info("cube")
            self.assertEqual((ti.shape, ti.type_name, ti.ggml_type, ti.nbytes), ((2, 3, 4), "f32", 0, 96))
            np.testing.assert_array_equal(r.read_tensor("f32"), f32)
            np.testing.assert_array_equal(r.read_tensor("cube"), cube)
            np.testing.assert_array_equal(r.read_tensor("as_f16", "f16"), f32.astype(np.float16))
            np.testing.assert_array_equal(r.read_tensor("as_f16"), f32.astype(np.float16).astype(np.float32))
            self.assertEqual(r.read_tensor("as_bf16", "bf16").dtype, np.uint16)
            np.testing.assert_allclose(r.read_tensor("as_bf16"), f32, rtol=2**-8)
            self.assertEqual(r.read_tensor("i8", "i8").tolist(), list(range(-3, 4)))
            self.assertEqual(r.read_tensor("i64", "i64").tolist(), [0, 1])
            np.testing.assert_array_equal(r.read_tensor("f64", "f64"), [0.1, 0.2])
            for name, layout in (("tq1", "tq1_0"), ("tq2", "tq2_0")):
                packed = bitnet.quantize_tq(x256, layout)
                np.testing.assert_array_equal(r.read_raw(name), packed)
                t, s = bitnet.unpack(packed, layout, (2, 512), with_scales=True)
                np.testing.assert_array_equal(r.read_tensor(name), t * np.repeat(s, 256, axis=1))
            for name in ("tern1", "tern2"):
                t, s = r.read_ternary(name)
                np.testing.assert_array_equal(t, trits)
                np.testing.assert_array_equal(s[:, 0], scales)
                np.testing.assert_array_equal(r.read_ternary(name, with_scales=False), trits)
            self.assertEqual(r.tensor_info("tern1").type_name, "tq1_0")
            with self.assertRaises(rai.DTypeMismatchError) as cm:
                r.read_ternary("f32")  # not a ternary type
            self.assertIn("f32", cm.exception.message)
            with self.assertRaises(KeyError):
                r.read_raw("absent")

    def test_gguf_py_golden(self):
        with files.GGUFReader(GGUF_GOLDEN) as r:
            self.assertEqual(r.info.version, 3)
            src = r.read_tensor("src.w")
            for q, layout in (("tq1.w", "tq1_0"), ("tq2.w", "tq2_0")):
                np.testing.assert_array_equal(r.read_raw(q), bitnet.quantize_tq(src, layout))  # gguf-py's bytes
                np.testing.assert_array_equal(r.read_tensor(q), r.read_tensor(q + ".deq"))  # gguf-py's values
            trits = r.read_tensor("tern.trits", "i8")
            scales = r.read_tensor("tern.scales")
            for name in ("tern.tq1", "tern.tq2"):
                t, s = r.read_ternary(name)
                np.testing.assert_array_equal(t, trits)
                np.testing.assert_array_equal(s, np.repeat(scales[:, None], s.shape[1], 1))
            self.assertGreater(len(r.kv), 5)

    def test_errors(self):
        with self.assertRaises(rai.InputOutputError) as cm:
            files.GGUFReader(self.path("none.gguf"))
        self.assertIn("none.gguf", cm.exception.message)
        with open(GGUF_GOLDEN, "rb") as f:
            data = f.read()
        with open(self.path("trunc.gguf"), "wb") as f:
            f.write(data[:100])
        with self.assertRaises(rai.FormatError):
            files.GGUFReader(self.path("trunc.gguf"))
        with files.GGUFWriter() as w:
            w.add_kv("k", "v")
            with self.assertRaises(rai.InvalidArgumentError) as cm:
                w.add_kv("k", "again")
            self.assertIn("k", cm.exception.message)
            with self.assertRaises(rai.InvalidArgumentError):
                w.add_kv("x", 300, type="uint8")
            with self.assertRaises(rai.InvalidArgumentError) as cm:
                w.add_kv("x", 1, type="complex")
            self.assertIn("type", cm.exception.message)
            with self.assertRaises(TypeError):
                w.add_kv("x", object())
            with self.assertRaises(rai.ShapeMismatchError):
                w.add_tensor("q", np.zeros((1, 100), np.float32), "tq2_0")
            with self.assertRaises(rai.UnsupportedError):
                w.add_ternary("t", np.zeros((1, 256), np.int8), np.array([[1.0, 2.0, 1.0, 1.0]], np.float32))
            with self.assertRaises(rai.OutOfRangeError):
                w.add_ternary("t", np.zeros((1, 256), np.int8), np.array([0.1], np.float32), exact_scales=True)
            with self.assertRaises(rai.InvalidArgumentError):
                w.add_tensor("bad", np.zeros(1, np.uint32))
            with self.assertRaises(rai.InputOutputError):
                w.write(os.path.join(self.dir, "missing", "x.gguf"))
            self.assertFalse(os.path.exists(os.path.join(self.dir, "missing")))


if __name__ == "__main__":
    unittest.main()
