"""Contexts (device choice, strictness, RAI_DEVICE, streams, lifetime) and buffers."""

import array
import gc
import unittest
import weakref

import rai

from rai_test_support import environ, module_fixture, np, requires_no_gpu, requires_numpy


setUpModule, tearDownModule = module_fixture(globals())


class ContextTest(unittest.TestCase):
    def test_cpu_context(self):
        with rai.Context("cpu") as ctx:
            self.assertEqual(ctx.device, rai.Device(rai.DeviceType.CPU, 0))
            self.assertEqual(str(ctx.device), "cpu")
            self.assertFalse(ctx.is_cuda)
            self.assertEqual(ctx.stream, 0)
            ctx.synchronize()
            self.assertIn("cpu", repr(ctx))
        self.assertTrue(ctx.closed)
        self.assertEqual(repr(ctx), "<rai.Context closed>")

    def test_auto_context(self):
        with rai.Context() as ctx:
            expected = "cuda:0" if rai.cuda_device_count() > 0 else "cpu"
            self.assertEqual(str(ctx.device), expected)

    @requires_no_gpu
    def test_strict_cuda_without_gpu(self):
        with self.assertRaises(rai.NoDeviceError) as cm:
            rai.Context("cuda", strict=True)
        self.assertEqual(cm.exception.status, rai.Status.NO_DEVICE)
        self.assertIn("CUDA device 0 requested but CUDA is not available", cm.exception.message)

    @requires_no_gpu
    def test_cuda_falls_back_to_cpu(self):
        with rai.Context("cuda") as ctx:
            self.assertEqual(str(ctx.device), "cpu")

    def test_strict_missing_ordinal(self):
        with self.assertRaises(rai.NoDeviceError) as cm:
            rai.Context("cuda:99", strict=True)
        self.assertIn("CUDA device 99 requested", cm.exception.message)
        with rai.Context("cuda:99") as ctx:  # not strict: the CPU
            self.assertEqual(str(ctx.device), "cpu")

    def test_rai_device_bogus(self):
        with environ(RAI_DEVICE="bogus"):
            with self.assertRaises(rai.InvalidArgumentError) as cm:
                rai.Context("cpu")
            self.assertEqual(cm.exception.status, rai.Status.INVALID_ARGUMENT)
            self.assertIn("RAI_DEVICE='bogus'", cm.exception.message)
            with rai.Context("cpu", ignore_env=True) as ctx:  # RAI_CONTEXT_IGNORE_ENV
                self.assertEqual(str(ctx.device), "cpu")

    def test_rai_device_overrides(self):
        with environ(RAI_DEVICE="cpu"):
            with rai.Context("cuda:99", strict=True) as ctx:
                self.assertEqual(str(ctx.device), "cpu")
        with environ(RAI_DEVICE="cuda:99"):
            with self.assertRaises(rai.NoDeviceError):
                rai.Context("cpu", strict=True)

    def test_bad_device_strings(self):
        for spec in ("tpu", "cuda:", "cuda:-1", "cpu:1", "cuda:x", ""):
            with self.assertRaises(rai.InvalidArgumentError, msg=spec) as cm:
                rai.Context(spec)
            self.assertIn("device=", cm.exception.message)
        with self.assertRaises(TypeError):
            rai.Context(0)
        self.assertEqual(str(rai.Context(" CUDA:99 ").device), "cpu")

    def test_stream_on_cpu(self):
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            rai.Context("cpu", stream=0x1234)
        self.assertEqual(cm.exception.message, "params->stream must be NULL for a CPU context")
        with rai.Context("cpu") as ctx:
            with self.assertRaises(rai.UnsupportedError) as cm:
                ctx.set_stream(None)
            self.assertEqual(cm.exception.status, rai.Status.UNSUPPORTED)
            self.assertIn("ctx is a CPU context", cm.exception.message)
        with self.assertRaises(TypeError):
            rai.Context("cpu", stream="not a stream")

    def test_close_is_idempotent_and_final(self):
        ctx = rai.Context("cpu")
        ctx.close()
        ctx.close()
        with self.assertRaises(ValueError):
            ctx.synchronize()
        with self.assertRaises(ValueError):
            _ = ctx.device
        with self.assertRaises(ValueError):
            rai.Buffer(ctx, 8)

    def test_garbage_collection(self):
        ctx = rai.Context("cpu")
        ref = weakref.ref(ctx)
        del ctx
        gc.collect()
        self.assertIsNone(ref())

    def test_device_parse(self):
        self.assertEqual(rai.Device.parse("cuda:3"), rai.Device(rai.DeviceType.CUDA, 3))
        self.assertEqual(str(rai.Device.parse("cuda")), "cuda:0")
        self.assertEqual(rai.Device.parse((1, 0)), rai.Device(rai.DeviceType.CPU, 0))
        self.assertTrue(rai.Device.parse("cuda_host").is_host)
        with self.assertRaises(rai.InvalidArgumentError):
            rai.Device.parse("auto")


class BufferTest(unittest.TestCase):
    def setUp(self):
        self.ctx = rai.Context("cpu")

    def tearDown(self):
        self.ctx.close()

    def test_round_trip(self):
        with rai.Buffer(self.ctx, 64) as buf:
            self.assertEqual(len(buf), 64)
            self.assertEqual(buf.nbytes, 64)
            self.assertEqual(buf.device, rai.Device(rai.DeviceType.CPU, 0))
            self.assertNotEqual(buf.data_ptr, 0)
            self.assertEqual(buf.data_ptr % 256, 0)  # documented alignment
            payload = bytes(range(64))
            self.assertEqual(buf.write(payload), 64)
            self.assertEqual(buf.read(), payload)
            self.assertEqual(buf.write(b"\xff\xfe", offset=10), 2)
            self.assertEqual(buf.read(4, offset=9), bytes([9, 0xFF, 0xFE, 12]))
            self.assertEqual(buf.read(0, offset=64), b"")
            self.assertEqual(buf.read(offset=60), bytes([60, 61, 62, 63]))
            target = bytearray(8)
            self.assertEqual(buf.read_into(target, offset=8), 8)
            self.assertEqual(target, bytes([8, 9, 0xFF, 0xFE, 12, 13, 14, 15]))
            buf.write(array.array("I", [0xDEADBEEF]), offset=32)
            self.assertEqual(buf.read(4, offset=32), (0xDEADBEEF).to_bytes(4, "little"))
        self.assertTrue(buf.closed)
        self.assertEqual(repr(buf), "<rai.Buffer closed>")

    def test_context_helper(self):
        buf = self.ctx.buffer(16)
        self.assertIs(buf.context, self.ctx)
        self.assertEqual(buf.nbytes, 16)
        buf.close()

    def test_zero_bytes(self):
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            rai.Buffer(self.ctx, 0)
        self.assertEqual(cm.exception.status, rai.Status.INVALID_ARGUMENT)
        self.assertIn("bytes", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            rai.Buffer(self.ctx, -1)
        self.assertIn("nbytes", cm.exception.message)

    def test_out_of_range(self):
        with rai.Buffer(self.ctx, 16) as buf:
            buf.write(b"A" * 16)
            with self.assertRaises(rai.OutOfRangeError) as cm:
                buf.read(8, offset=12)
            self.assertEqual(cm.exception.status, rai.Status.OUT_OF_RANGE)
            self.assertEqual(cm.exception.message, "range [12, +8) is outside the buffer of 16 bytes")
            with self.assertRaises(rai.OutOfRangeError):
                buf.write(b"B" * 8, offset=12)
            self.assertEqual(buf.read(), b"A" * 16)  # nothing was written
            with self.assertRaises(rai.OutOfRangeError):
                buf.read(1, offset=17)
            with self.assertRaises(rai.OutOfRangeError):
                buf.read_into(bytearray(17))
            with self.assertRaises(rai.InvalidArgumentError):
                buf.read(1, offset=-1)

    def test_refuses_non_contiguous_and_read_only(self):
        with rai.Buffer(self.ctx, 16) as buf:
            with self.assertRaises(TypeError):
                buf.write(memoryview(bytearray(32))[::2])
            with self.assertRaises(TypeError):
                buf.read_into(b"immutable")
            with self.assertRaises(TypeError):
                buf.write("text is not bytes")

    def test_closed_buffer(self):
        buf = rai.Buffer(self.ctx, 8)
        buf.close()
        buf.close()
        with self.assertRaises(ValueError):
            buf.read()
        with self.assertRaises(ValueError):
            buf.write(b"x")

    def test_buffer_outlives_closed_context(self):
        ctx = rai.Context("cpu")
        buf = rai.Buffer(ctx, 8)
        ctx.close()
        self.assertEqual(buf.nbytes, 8)  # the buffer itself is still valid
        with self.assertRaises(ValueError):  # but transfers need the context
            buf.read()
        buf.close()

    def test_buffer_keeps_context_alive(self):
        ctx = rai.Context("cpu")
        ref = weakref.ref(ctx)
        buf = rai.Buffer(ctx, 8)
        del ctx
        gc.collect()
        self.assertIsNotNone(ref())
        buf.write(b"12345678")
        self.assertEqual(buf.read(), b"12345678")
        del buf
        gc.collect()
        self.assertIsNone(ref())

    @requires_numpy
    def test_numpy(self):
        values = np.arange(10, dtype=np.float32) * 1.5
        with rai.Buffer(self.ctx, values.nbytes) as buf:
            buf.write(values)
            out = np.zeros(10, dtype=np.float32)
            buf.read_into(out)
            np.testing.assert_array_equal(out, values)
            np.testing.assert_array_equal(buf.read_array(np.float32), values)
            np.testing.assert_array_equal(buf.read_array("f4", shape=(2, 2), offset=8),
                                          values[2:6].reshape(2, 2))
            with self.assertRaises(TypeError):
                buf.write(values.reshape(2, 5).T)  # not C-contiguous: refused, never copied

    @requires_numpy
    def test_buffer_tensor_view(self):
        with rai.Buffer(self.ctx, 256) as buf:
            src = np.arange(12, dtype=np.int32).reshape(3, 4)
            view = buf.tensor("i32", (3, 4), offset=64)
            self.assertEqual(view.data_ptr, buf.data_ptr)
            self.assertEqual(view.byte_offset, 64)
            self.assertIs(view.owner, buf)
            rai.tensor_copy(self.ctx, src, view)
            np.testing.assert_array_equal(buf.read_array(np.int32, (3, 4), offset=64), src)
            np.testing.assert_array_equal(np.asarray(view), src)  # __array_interface__, no copy
            out = np.zeros((4, 3), np.int32)
            rai.tensor_copy(self.ctx, view, out.T)
            np.testing.assert_array_equal(out, src.T)
            column = buf.tensor(np.int32, (3,), strides=(4,), offset=64)
            np.testing.assert_array_equal(np.asarray(column), src[:, 0])
            as_bytes = rai.as_tensor(buf)
            self.assertEqual((as_bytes.dtype, as_bytes.shape), ("u8", (256,)))
            with self.assertRaises(rai.OutOfRangeError):
                buf.tensor("f64", (33,))
            with self.assertRaises(rai.OutOfRangeError):
                buf.tensor("i32", (3, 4), offset=224)


if __name__ == "__main__":
    unittest.main()
