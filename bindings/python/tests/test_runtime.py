"""Version, binding mode, status and errors, CPU features, CUDA queries, system info."""

import os
import pickle
import threading
import unittest

import rai
from rai import _backend

from rai_test_support import HAS_GPU, header_enum, header_macros, requires_no_gpu


class BindingModeTest(unittest.TestCase):
    def test_expected_mode(self):
        expected = os.environ.get("RAI_PY_EXPECT_MODE")
        if not expected:
            self.skipTest("RAI_PY_EXPECT_MODE not set")
        self.assertEqual(rai.binding_mode(), expected,
                         f"API-mode import error: {_backend.API_IMPORT_ERROR!r}")

    def test_force_abi(self):
        force = os.environ.get("RAI_PY_FORCE_ABI", "") not in ("", "0")
        if force:
            self.assertEqual(rai.binding_mode(), "abi")
        self.assertIn(rai.binding_mode(), ("api", "abi"))

    def test_every_header_function_is_reachable(self):
        import re

        from rai_test_support import header_text

        names = set(re.findall(r"RAI_API\s+[^;(]*?\b(rai_\w+)\s*\(", header_text()))
        self.assertGreater(len(names), 30)
        missing = sorted(n for n in names if not hasattr(_backend.lib, n))
        self.assertEqual(missing, [])


class VersionTest(unittest.TestCase):
    def test_version_matches_header(self):
        m = header_macros()
        self.assertEqual(rai.version(), m["RAI_VERSION_STRING"])
        self.assertEqual(rai.version(), "%d.%d.%d" % (m["RAI_VERSION_MAJOR"], m["RAI_VERSION_MINOR"],
                                                      m["RAI_VERSION_PATCH"]))
        self.assertEqual(rai.version_number(), m["RAI_VERSION_NUMBER"])
        self.assertEqual(rai.version_number(), m["RAI_VERSION_MAJOR"] * 10000
                         + m["RAI_VERSION_MINOR"] * 100 + m["RAI_VERSION_PATCH"])
        self.assertEqual(rai.version_info(), (m["RAI_VERSION_MAJOR"], m["RAI_VERSION_MINOR"],
                                              m["RAI_VERSION_PATCH"]))
        self.assertEqual(rai.HEADER_VERSION, rai.version_info())
        self.assertEqual(rai.HEADER_VERSION_NUMBER, m["RAI_VERSION_NUMBER"])
        self.assertEqual(rai.__version__, rai.version())

    def test_build_info(self):
        info = rai.build_info()
        self.assertTrue(info.startswith("rai " + rai.version()), info)
        self.assertIn("CUDA plugin", info)

    def test_abi_compatibility_rule(self):
        ok = _backend._abi_compatible
        self.assertTrue(ok(100, 100))
        self.assertTrue(ok(100, 105))      # 0.1.0 header, 0.1.5 library
        self.assertFalse(ok(100, 200))     # 0.x: the minor is ABI-relevant
        self.assertFalse(ok(200, 100))
        self.assertTrue(ok(10200, 10300))  # 1.2 header, 1.3 library
        self.assertFalse(ok(10300, 10200))
        self.assertFalse(ok(10000, 20000))


class StatusTest(unittest.TestCase):
    def test_enum_matches_header(self):
        expected = {}
        for name, value in header_enum("rai_status").items():
            short = name[len("RAI_ERROR_"):] if name.startswith("RAI_ERROR_") else name[len("RAI_"):]
            expected[short] = value
        self.assertEqual({s.name: int(s) for s in rai.Status}, expected)
        self.assertEqual(rai.Status.OK, 0)
        self.assertEqual(rai.Status.INVALID_ARGUMENT, 1)
        self.assertEqual(rai.Status.NO_DEVICE, 3)
        self.assertEqual(rai.Status.OUT_OF_RANGE, 16)

    def test_status_strings(self):
        self.assertEqual(rai.status_string(rai.Status.OK), "ok")
        self.assertEqual(rai.status_string(rai.Status.INVALID_ARGUMENT), "invalid argument")
        self.assertEqual(rai.status_string(rai.Status.OUT_OF_MEMORY), "out of memory")
        self.assertEqual(rai.status_string(rai.Status.NO_DEVICE), "no device")
        self.assertEqual(rai.status_string(rai.Status.SHAPE_MISMATCH), "shape mismatch")
        self.assertEqual(rai.status_string(rai.Status.DTYPE_MISMATCH), "dtype mismatch")
        self.assertEqual(rai.status_string(rai.Status.DEVICE_MISMATCH), "device mismatch")
        self.assertEqual(rai.status_string(rai.Status.OUT_OF_RANGE), "out of range")
        self.assertEqual(rai.status_string(999), "unknown status")
        for status in rai.Status:
            self.assertTrue(rai.status_string(status))
            self.assertNotEqual(rai.status_string(status), "unknown status")

    def test_error_classes(self):
        for status in rai.Status:
            if status == rai.Status.OK:
                continue
            cls = rai.error_class(status)
            self.assertTrue(issubclass(cls, rai.RaiError), cls)
            self.assertIsNot(cls, rai.RaiError, status)
        self.assertTrue(issubclass(rai.InvalidArgumentError, ValueError))
        self.assertTrue(issubclass(rai.OutOfMemoryError, MemoryError))
        self.assertTrue(issubclass(rai.DTypeMismatchError, TypeError))
        self.assertIs(rai.error_class(12345), rai.RaiError)

    def test_error_fields_str_and_pickle(self):
        with rai.Context("cpu", ignore_env=True) as ctx:
            with self.assertRaises(rai.InvalidArgumentError) as cm:
                rai.Buffer(ctx, 0)
        e = cm.exception
        self.assertIsInstance(e, rai.RaiError)
        self.assertIsInstance(e.status, rai.Status)
        self.assertEqual(e.status, rai.Status.INVALID_ARGUMENT)
        self.assertEqual(e.message, "bytes must be > 0")
        self.assertEqual(str(e), "invalid argument: bytes must be > 0")
        self.assertEqual(e.status_string, "invalid argument")
        clone = pickle.loads(pickle.dumps(e))
        self.assertIs(type(clone), rai.InvalidArgumentError)
        self.assertEqual((clone.status, clone.message), (e.status, e.message))

    def test_message_is_fetched_on_the_failing_thread(self):
        # rai_last_error_message() is thread-local: two threads failing differently each see
        # their own message.
        results = {}
        barrier = threading.Barrier(2)

        def fail(name, nbytes_offset):
            with rai.Context("cpu", ignore_env=True) as ctx, rai.Buffer(ctx, 8) as buf:
                barrier.wait()
                for _ in range(200):
                    try:
                        buf.read(4, offset=nbytes_offset)
                    except rai.OutOfRangeError as exc:
                        results.setdefault(name, set()).add(exc.message)

        threads = [threading.Thread(target=fail, args=("a", 6)), threading.Thread(target=fail, args=("b", 7))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results["a"], {"range [6, +4) is outside the buffer of 8 bytes"})
        self.assertEqual(results["b"], {"range [7, +4) is outside the buffer of 8 bytes"})

    def test_last_error_message(self):
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            rai.set_log_level(99)
        self.assertEqual(cm.exception.message, "level 99 is not a rai_log_level")
        self.assertEqual(rai.last_error_message(), "level 99 is not a rai_log_level")


class CpuFeatureTest(unittest.TestCase):
    def setUp(self):
        self.saved = rai.cpu_features()

    def tearDown(self):
        rai.set_cpu_feature_mask(self.saved)
        self.assertEqual(rai.cpu_features(), self.saved)

    def test_flags_match_header(self):
        macros = header_macros()
        expected = {k[len("RAI_CPU_"):]: v for k, v in macros.items() if k.startswith("RAI_CPU_")}
        self.assertEqual({f.name: int(f) for f in rai.CpuFeature}, expected)
        self.assertEqual(rai.CpuFeature.AVX2, 0x2)

    def test_detected_and_usable(self):
        detected = rai.cpu_features_detected()
        self.assertIsInstance(detected, rai.CpuFeature)
        self.assertEqual(int(rai.cpu_features()) & ~int(detected), 0)
        names = rai.cpu_feature_names(detected)
        self.assertEqual(len(names), bin(int(detected)).count("1"))
        self.assertEqual(rai.cpu_feature_names(rai.CpuFeature.AVX2 | rai.CpuFeature.FMA), ["avx2", "fma"])
        self.assertEqual(rai.cpu_feature_names(0), [])

    def test_mask_round_trip(self):
        detected = rai.cpu_features_detected()
        rai.set_cpu_feature_mask(0)
        self.assertEqual(int(rai.cpu_features()), 0)
        self.assertEqual(rai.cpu_dispatch_level(), "scalar")
        self.assertEqual(rai.system_info()["cpu"]["usable"], [])
        rai.set_cpu_feature_mask(["avx2", "FMA"])
        self.assertEqual(int(rai.cpu_features()), int(detected) & 0x6)
        rai.set_cpu_feature_mask(rai.CpuFeature.POPCNT)
        self.assertEqual(int(rai.cpu_features()), int(detected) & 0x1)
        self.assertEqual(rai.cpu_dispatch_level(), "scalar")
        rai.set_cpu_feature_mask(0xFFFFFFFFFFFFFFFF)
        self.assertEqual(rai.cpu_features(), detected)
        self.assertIn(rai.cpu_dispatch_level(), ("scalar", "avx2", "avx512"))
        self.assertEqual(rai.cpu_dispatch_level(), rai.system_info()["cpu"]["dispatch_level"])
        self.assertEqual(rai.system_info()["cpu"]["usable"], rai.cpu_feature_names(detected))

    def test_mask_is_global(self):
        rai.set_cpu_feature_mask(0)
        seen = []
        t = threading.Thread(target=lambda: seen.append(int(rai.cpu_features())))
        t.start()
        t.join()
        self.assertEqual(seen, [0])

    def test_bad_masks(self):
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            rai.set_cpu_feature_mask(["avx9000"])
        self.assertIn("avx9000", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError):
            rai.set_cpu_feature_mask(-1)
        with self.assertRaises(rai.InvalidArgumentError):
            rai.set_cpu_feature_mask(1 << 64)


class CudaQueryTest(unittest.TestCase):
    def test_count_and_plugin(self):
        n = rai.cuda_device_count()
        self.assertIsInstance(n, int)
        self.assertGreaterEqual(n, 0)
        self.assertIsInstance(rai.cuda_plugin_loaded(), bool)
        self.assertTrue(rai.cuda_plugin_status())
        info = rai.system_info()
        self.assertEqual(len(info["cuda_devices"]), n)
        self.assertEqual(info["cuda_plugin"]["loaded"], rai.cuda_plugin_loaded())
        self.assertEqual(info["cuda_plugin"]["status"], rai.cuda_plugin_status())
        self.assertEqual(len(rai.cuda_devices()), n)

    def test_missing_device(self):
        n = rai.cuda_device_count()
        with self.assertRaises(rai.NoDeviceError) as cm:
            rai.cuda_device_info(n)
        self.assertEqual(cm.exception.status, rai.Status.NO_DEVICE)
        self.assertEqual(cm.exception.message, f"CUDA device {n} requested but {n} available")
        with self.assertRaises(rai.NoDeviceError):
            rai.cuda_device_info(-1)

    @requires_no_gpu
    def test_no_gpu_here(self):
        self.assertEqual(rai.cuda_device_count(), 0)
        self.assertEqual(rai.cuda_devices(), [])
        self.assertFalse(HAS_GPU)


class SystemInfoTest(unittest.TestCase):
    def test_fields(self):
        info = rai.system_info()
        self.assertEqual(info["version"], rai.version())
        self.assertEqual(info["build_info"], rai.build_info())
        self.assertEqual(info["cpu"]["detected"], rai.cpu_feature_names(rai.cpu_features_detected()))
        self.assertEqual(info["cpu"]["usable"], rai.cpu_feature_names())
        self.assertEqual(info["cpu"]["dispatch_level"], rai.cpu_dispatch_level())


class DtypeTest(unittest.TestCase):
    def test_dtype_table_and_sizes(self):
        self.assertEqual(set(rai.DTYPES), {"f32", "f16", "bf16", "f64", "i8", "u8", "i32", "i64", "u32", "u64"})
        self.assertEqual(rai.DTYPES["bf16"], (4, 16))
        self.assertEqual(rai.DTYPES["u32"], (1, 32))
        for name, (_, bits) in rai.DTYPES.items():
            self.assertEqual(rai.dtype_size(name), bits // 8)
        self.assertEqual(rai.dtype_size("float64"), 8)
        with self.assertRaises(TypeError):
            rai.dtype_size("i16")


if __name__ == "__main__":
    unittest.main()
