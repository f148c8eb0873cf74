"""CUDA contexts, buffers and copies. Skipped where rai.cuda_device_count() == 0."""

import unittest

import rai

from rai_test_support import module_fixture, np, requires_gpu, requires_numpy


setUpModule, tearDownModule = module_fixture(globals())


@requires_gpu
class GpuContextTest(unittest.TestCase):
    def test_device_info(self):
        for ordinal in range(rai.cuda_device_count()):
            info = rai.cuda_device_info(ordinal)
            self.assertEqual(info.ordinal, ordinal)
            self.assertTrue(info.name)
            self.assertGreaterEqual(info.compute_capability[0], 5)
            self.assertGreater(info.multiprocessor_count, 0)
            self.assertGreater(info.total_memory_bytes, 0)
            self.assertLessEqual(info.free_memory_bytes, info.total_memory_bytes)
            self.assertEqual(rai.system_info()["cuda_devices"][ordinal]["name"], info.name)
        self.assertTrue(rai.cuda_plugin_loaded())

    def test_strict_cuda_context(self):
        with rai.Context("cuda", strict=True) as ctx:
            self.assertEqual(ctx.device, rai.Device(rai.DeviceType.CUDA, 0))
            self.assertTrue(ctx.is_cuda)
            self.assertNotEqual(ctx.stream, 0)
            ctx.synchronize()
        n = rai.cuda_device_count()
        with self.assertRaises(rai.NoDeviceError) as cm:
            rai.Context(f"cuda:{n}", strict=True)
        self.assertEqual(cm.exception.message, f"CUDA device {n} requested but {n} available")

    def test_adopt_stream(self):
        with rai.Context("cuda", strict=True) as owner, rai.Context("cuda", strict=True) as ctx:
            own = ctx.stream
            ctx.set_stream(owner.stream)
            self.assertEqual(ctx.stream, owner.stream)
            ctx.synchronize()
            ctx.set_stream(None)
            self.assertNotEqual(ctx.stream, owner.stream)
            self.assertNotEqual(own, 0)
        with rai.Context("cuda", strict=True) as owner:
            with rai.Context("cuda", strict=True, stream=owner.stream) as ctx:
                self.assertEqual(ctx.stream, owner.stream)

    def test_buffer_round_trip(self):
        with rai.Context("cuda", strict=True) as ctx, rai.Buffer(ctx, 1 << 20) as buf:
            self.assertEqual(buf.device, rai.Device(rai.DeviceType.CUDA, 0))
            self.assertNotEqual(buf.data_ptr, 0)
            payload = bytes(i % 251 for i in range(1 << 20))
            buf.write(payload)
            self.assertEqual(buf.read(), payload)
            self.assertEqual(buf.read(5, offset=1000), payload[1000:1005])
            with self.assertRaises(rai.OutOfRangeError):
                buf.read(2, offset=(1 << 20) - 1)

    @requires_numpy
    def test_tensor_copies(self):
        with rai.Context("cuda", strict=True) as ctx, rai.Buffer(ctx, 4096) as buf:
            host = np.arange(12, dtype=np.float32).reshape(3, 4)
            dev = buf.tensor("f32", (3, 4))
            self.assertTrue(dev.device.is_cuda)
            self.assertEqual(dev.__cuda_array_interface__["data"][0], buf.data_ptr)
            rai.tensor_copy(ctx, host.T, buf.tensor("f32", (4, 3)))       # strided host -> device
            back = np.zeros((3, 4), np.float32)
            rai.tensor_copy(ctx, buf.tensor("f32", (4, 3)), back.T)       # device -> strided host
            np.testing.assert_array_equal(back, host)
            rai.tensor_copy(ctx, host, dev)
            other = buf.tensor("f32", (4, 3), offset=1024)
            rai.tensor_copy(ctx, buf.tensor("f32", (4, 3), strides=(1, 4)), other)  # device strided
            out = np.zeros((4, 3), np.float32)
            rai.tensor_copy(ctx, other, out)
            np.testing.assert_array_equal(out, host.T)
            with self.assertRaises(rai.DeviceMismatchError):
                with rai.Context("cpu") as cpu:
                    rai.tensor_copy(cpu, dev, back)  # same shape: only the device differs


if __name__ == "__main__":
    unittest.main()
