"""Tensor descriptors: numpy / buffer protocol / DLPack / CUDA array interface, and tensor_copy."""

import array
import ctypes
import gc
import unittest

import rai
from rai import _backend

from rai_test_support import module_fixture, np, requires_numpy

ffi = _backend.ffi

_pycapsule_new = ctypes.pythonapi.PyCapsule_New
_pycapsule_new.restype = ctypes.py_object
_pycapsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_pycapsule_set_name = ctypes.pythonapi.PyCapsule_SetName
_pycapsule_set_name.restype = ctypes.c_int
_pycapsule_set_name.argtypes = [ctypes.py_object, ctypes.c_char_p]
# Capsule names must outlive the capsules: module-level constants.
_DLTENSOR = b"dltensor"
_DLTENSOR_VERSIONED = b"dltensor_versioned"
_USED = b"used_dltensor"


setUpModule, tearDownModule = module_fixture(globals(), cpu_context=True)


def _numpy_exports_versioned_dlpack():
    """numpy >= 2.1 takes max_version and can flag read-only arrays; older numpy cannot."""
    if np is None:
        return False
    try:
        np.zeros(1).__dlpack__(max_version=(1, 0))
    except TypeError:
        return False
    return True


NUMPY_VERSIONED_DLPACK = _numpy_exports_versioned_dlpack()
requires_versioned_dlpack = unittest.skipUnless(NUMPY_VERSIONED_DLPACK,
                                                "numpy too old for versioned DLPack capsules")


class DLPackProducer:
    """A stand-in for a third-party array: forwards __dlpack__ to a numpy array."""

    def __init__(self, arr, versioned=True):
        self.arr = arr
        self.versioned = versioned
        self.calls = []

    def __dlpack__(self, stream=None, **kwargs):
        self.calls.append(dict(kwargs, stream=stream))
        if not self.versioned:
            if kwargs:  # a pre-1.0 producer knows no max_version / copy keywords
                raise TypeError("unexpected keyword arguments")
            return self.arr.__dlpack__()
        return self.arr.__dlpack__(stream=stream, **kwargs)

    def __dlpack_device__(self):
        return self.arr.__dlpack_device__()


class FakeCudaDLPack:
    """A DLPack producer of a (fake) CUDA tensor: the DLManagedTensor is built with cffi, the
    capsule with PyCapsule_New. The data pointer is never dereferenced by the tests."""

    def __init__(self, shape, strides=None, dtype=(2, 16, 1), device=(2, 3), data=0x7F0000001000,
                 byte_offset=0, versioned=False, version=(1, 0), flags=0):
        self.versioned = versioned
        self.shape = ffi.new("int64_t[]", list(shape) or [0])
        self.strides = ffi.new("int64_t[]", list(strides)) if strides else ffi.NULL
        ctype = "rai_py_dlmanaged_tensor_versioned *" if versioned else "rai_py_dlmanaged_tensor *"
        self.managed = ffi.new(ctype)
        if versioned:
            self.managed.version.major, self.managed.version.minor = version
            self.managed.flags = flags
        dl = self.managed.dl_tensor
        dl.data = ffi.cast("void *", data)
        dl.device.device_type, dl.device.device_id = device
        dl.ndim = len(shape)
        dl.dtype.code, dl.dtype.bits, dl.dtype.lanes = dtype
        dl.shape = self.shape
        dl.strides = self.strides
        dl.byte_offset = byte_offset
        self.device = device
        self.streams = []

    def __dlpack__(self, stream=None, max_version=None, copy=None):
        self.streams.append(stream)
        address = int(ffi.cast("uintptr_t", self.managed))
        return _pycapsule_new(address, _DLTENSOR_VERSIONED if self.versioned else _DLTENSOR, None)

    def __dlpack_device__(self):
        return self.device


class FakeCudaArray:
    """An object with only __cuda_array_interface__ (v3)."""

    def __init__(self, **interface):
        self.__cuda_array_interface__ = dict({"version": 3, "strides": None}, **interface)


@requires_numpy
class NumpyTensorTest(unittest.TestCase):
    DTYPES = {np.float32: "f32", np.float16: "f16", np.float64: "f64", np.int8: "i8", np.uint8: "u8",
              np.int32: "i32", np.int64: "i64", np.uint32: "u32", np.uint64: "u64"}

    def test_dtypes(self):
        for np_type, name in self.DTYPES.items():
            arr = np.zeros(3, dtype=np_type)
            t = rai.as_tensor(arr)
            self.assertEqual(t.dtype, name)
            self.assertEqual(t.itemsize, arr.itemsize)
            code, bits = rai.DTYPES[name]
            self.assertEqual((t.cdata.dtype.code, t.cdata.dtype.bits, t.cdata.dtype.lanes), (code, bits, 1))
            t.validate()

    def test_zero_copy_descriptor(self):
        a = np.arange(12, dtype=np.float32).reshape(3, 4)
        t = rai.as_tensor(a)
        self.assertEqual(t.data_ptr, a.ctypes.data)
        self.assertEqual(int(ffi.cast("uintptr_t", t.cdata.data)), a.ctypes.data)
        self.assertEqual((t.ndim, t.shape, t.strides), (2, (3, 4), (4, 1)))
        self.assertEqual(t.device, rai.Device(rai.DeviceType.CPU, 0))
        self.assertEqual(t.byte_offset, 0)
        self.assertFalse(t.readonly)
        self.assertIs(t.owner, a)
        self.assertEqual((t.size, t.nbytes), (12, 48))

        tt = rai.as_tensor(a.T)
        self.assertEqual((tt.data_ptr, tt.shape, tt.strides), (a.ctypes.data, (4, 3), (1, 4)))
        step = rai.as_tensor(a.reshape(-1)[::2])
        self.assertEqual((step.data_ptr, step.shape, step.strides), (a.ctypes.data, (6,), (2,)))
        corner = rai.as_tensor(a[1:, 2:])
        self.assertEqual(corner.data_ptr, a.ctypes.data + (4 + 2) * 4)
        self.assertEqual((corner.shape, corner.strides), ((2, 2), (4, 1)))
        scalar = rai.as_tensor(np.array(5, dtype=np.int64))
        self.assertEqual((scalar.ndim, scalar.shape), (0, ()))

    def test_descriptor_arrays_live_with_the_tensor(self):
        t = rai.as_tensor(np.arange(6, dtype=np.float64).reshape(2, 3))  # the array has no other ref
        gc.collect()
        self.assertEqual([t.cdata.shape[0], t.cdata.shape[1]], [2, 3])
        self.assertEqual([t.cdata.strides[0], t.cdata.strides[1]], [3, 1])
        np.testing.assert_array_equal(np.asarray(t), np.arange(6.0).reshape(2, 3))
        t.validate()

    def test_refuses_what_it_cannot_describe(self):
        bad = [np.zeros(3, dtype=np.bool_), np.zeros(3, dtype=np.int16), np.zeros(3, dtype=np.complex64),
               np.zeros(3, dtype=object), np.zeros(3, dtype=">f4"),
               np.zeros(3, dtype=[("a", "f4"), ("b", "i4")]), np.ma.masked_array(np.zeros(3, np.float32))]
        for arr in bad:
            with self.assertRaises(TypeError, msg=str(arr.dtype)):
                rai.as_tensor(arr)
        raw = np.zeros(16, dtype=np.uint8)
        odd = np.lib.stride_tricks.as_strided(raw[1:].view(np.uint8), shape=(3,), strides=(5,))
        rai.as_tensor(odd)  # 1-byte elements: any stride is fine
        misaligned = np.lib.stride_tricks.as_strided(raw.view(np.float32), shape=(2,), strides=(6,))
        with self.assertRaises(TypeError) as cm:
            rai.as_tensor(misaligned)
        self.assertIn("not a multiple of the element size", str(cm.exception))
        with self.assertRaises(TypeError):
            rai.as_tensor([1.0, 2.0])  # a list would need a copy

    def test_explicit_dtype(self):
        bits = np.array([0x3F80, 0x4000], dtype=np.uint16)  # bf16 1.0, 2.0
        t = rai.as_tensor(bits, dtype="bf16")
        self.assertEqual((t.dtype, t.data_ptr), ("bf16", bits.ctypes.data))
        self.assertEqual(rai.as_tensor(np.zeros(2, np.int16), dtype="f16").dtype, "f16")
        self.assertEqual(rai.as_tensor(np.zeros(2, np.float32), dtype="i32").dtype, "i32")
        with self.assertRaises(TypeError):
            rai.as_tensor(np.zeros(2, np.float32), dtype="f64")
        with self.assertRaises(TypeError):
            rai.as_tensor(np.zeros(2, np.float32), dtype="q7")

    def test_bf16_copy(self):
        src = np.array([0x3F80, 0x4000, 0xC040], dtype=np.uint16)
        dst = np.zeros(6, dtype=np.uint16)
        rai.tensor_copy(CTX, rai.as_tensor(src, dtype="bf16"), rai.as_tensor(dst[::2], dtype="bf16"))
        np.testing.assert_array_equal(dst, [0x3F80, 0, 0x4000, 0, 0xC040, 0])

    def test_ml_dtypes_bfloat16(self):
        try:
            import ml_dtypes
        except ImportError:
            self.skipTest("ml_dtypes is not installed")
        arr = np.array([1.0, -2.5], dtype=ml_dtypes.bfloat16)
        t = rai.as_tensor(arr)
        self.assertEqual((t.dtype, t.data_ptr), ("bf16", arr.ctypes.data))
        out = np.zeros(2, dtype=ml_dtypes.bfloat16)
        rai.tensor_copy(CTX, arr, out)
        np.testing.assert_array_equal(out.astype(np.float32), [1.0, -2.5])

    def test_copy_into_strided_views(self):
        a = np.zeros(10, dtype=np.float32)
        src = np.arange(1, 6, dtype=np.float32)
        view = a[::2]
        self.assertIs(rai.tensor_copy(CTX, src, view), view)
        np.testing.assert_array_equal(a, [1, 0, 2, 0, 3, 0, 4, 0, 5, 0])

        b = np.zeros((4, 3), dtype=np.float64)
        m = np.arange(12, dtype=np.float64).reshape(3, 4)
        rai.tensor_copy(CTX, m, b.T)
        np.testing.assert_array_equal(b, m.T)

        c = np.full((3, 2), -1, dtype=np.int64)
        rai.tensor_copy(CTX, m.astype(np.int64)[:, ::2], c)  # strided source
        np.testing.assert_array_equal(c, [[0, 2], [4, 6], [8, 10]])

        d = np.zeros((2, 3, 4), dtype=np.uint8)
        e = np.arange(24, dtype=np.uint8).reshape(4, 3, 2)
        rai.tensor_copy(CTX, e.transpose(2, 1, 0), d)
        np.testing.assert_array_equal(d, e.transpose(2, 1, 0))

    def test_copy_returns_dst_and_all_dtypes(self):
        for np_type in self.DTYPES:
            info = np.finfo(np_type) if np.issubdtype(np_type, np.floating) else np.iinfo(np_type)
            src = np.array([info.min, 0, info.max], dtype=np_type)
            dst = np.zeros(3, dtype=np_type)
            self.assertIs(rai.tensor_copy(CTX, src, dst), dst)
            np.testing.assert_array_equal(dst, src)

    def test_copy_scalar_and_empty(self):
        src, dst = np.array(7.5, dtype=np.float32), np.array(0, dtype=np.float32)
        rai.tensor_copy(CTX, src, dst)
        self.assertEqual(float(dst), 7.5)
        rai.tensor_copy(CTX, np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32))

    def test_copy_mismatches(self):
        src = np.arange(12, dtype=np.float32).reshape(3, 4)
        dst = np.zeros((3, 4), dtype=np.float64)
        with self.assertRaises(rai.DTypeMismatchError) as cm:
            rai.tensor_copy(CTX, src, dst)
        self.assertEqual(cm.exception.status, rai.Status.DTYPE_MISMATCH)
        self.assertEqual(cm.exception.message, "dst: expected dtype f32, got f64")
        self.assertFalse(dst.any())

        dst = np.zeros((4, 3), dtype=np.float32)
        with self.assertRaises(rai.ShapeMismatchError) as cm:
            rai.tensor_copy(CTX, src, dst)
        self.assertEqual(cm.exception.status, rai.Status.SHAPE_MISMATCH)
        self.assertEqual(cm.exception.message, "dst: shape mismatch: expected [3, 4], got [4, 3]")
        self.assertFalse(dst.any())

        with self.assertRaises(rai.LayoutError) as cm:
            rai.tensor_copy(CTX, np.arange(4, dtype=np.float32)[::-1], np.zeros(4, np.float32))
        self.assertEqual(cm.exception.status, rai.Status.LAYOUT)
        self.assertIn("src: strides[0] is negative", cm.exception.message)

        frozen = np.zeros((3, 4), dtype=np.float32)
        frozen.flags.writeable = False
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            rai.tensor_copy(CTX, src, frozen)
        self.assertIn("dst is read-only", cm.exception.message)
        rai.tensor_copy(CTX, frozen, np.zeros((3, 4), np.float32))  # fine as a source

        closed = rai.Context("cpu")
        closed.close()
        with self.assertRaises(ValueError):
            rai.tensor_copy(closed, src, src.copy())

    def test_validate_reports_bad_descriptors(self):
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            rai.Tensor(data=0, dtype="f32", shape=(3,)).validate()
        self.assertEqual(cm.exception.message, "tensor: data must not be NULL")
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            rai.Tensor(data=0x1000, dtype="f32", shape=(2, -1)).validate()
        self.assertIn("shape[1] is negative", cm.exception.message)
        with self.assertRaises(rai.LayoutError):
            rai.Tensor(data=0x1000, dtype="f32", shape=(2,), byte_offset=2).validate()
        with self.assertRaises(rai.InvalidArgumentError):
            rai.Tensor(data=0x1000, dtype="f32", shape=(2, 2), strides=(1,))

    def test_export_shares_memory(self):
        a = np.arange(8, dtype=np.int32)
        t = rai.as_tensor(a[1::2])
        view = np.asarray(t)
        self.assertTrue(np.shares_memory(view, a))
        np.testing.assert_array_equal(view, [1, 3, 5, 7])
        self.assertFalse(hasattr(t, "__cuda_array_interface__"))


class BufferProtocolTest(unittest.TestCase):
    def test_bytearray_and_bytes(self):
        src = bytes(range(16))
        dst = bytearray(16)
        ts, td = rai.as_tensor(src), rai.as_tensor(dst)
        self.assertEqual((ts.dtype, ts.shape, ts.readonly), ("u8", (16,), True))
        self.assertEqual((td.dtype, td.readonly), ("u8", False))
        rai.tensor_copy(CTX, src, dst)
        self.assertEqual(bytes(dst), src)
        with self.assertRaises(rai.InvalidArgumentError):
            rai.tensor_copy(CTX, dst, src)  # bytes are read-only

    def test_array_module(self):
        floats = array.array("f", [1.0, 2.0, 3.0])
        t = rai.as_tensor(floats)
        self.assertEqual((t.dtype, t.shape, t.data_ptr), ("f32", (3,), floats.buffer_info()[0]))
        out = array.array("f", [0.0] * 3)
        rai.tensor_copy(CTX, floats, out)
        self.assertEqual(list(out), [1.0, 2.0, 3.0])
        self.assertEqual(rai.as_tensor(array.array("d", [1.0])).dtype, "f64")
        self.assertEqual(rai.as_tensor(array.array("q", [1])).dtype, "i64")
        self.assertEqual(rai.as_tensor(array.array("L", [1])).dtype, "u64")
        self.assertEqual(rai.as_tensor(array.array("h", [1]), dtype="f16").dtype, "f16")
        with self.assertRaises(TypeError):
            rai.as_tensor(array.array("h", [1]))  # int16: no rai dtype

    def test_memoryview_shapes(self):
        raw = bytearray(range(12))
        view = memoryview(raw).cast("B", (3, 4))
        t = rai.as_tensor(view)
        self.assertEqual((t.shape, t.strides), ((3, 4), (4, 1)))
        with self.assertRaises(TypeError):
            rai.as_tensor(memoryview(raw)[::2])
        with self.assertRaises(TypeError):
            rai.as_tensor(object())


@requires_numpy
class DLPackTest(unittest.TestCase):
    @requires_versioned_dlpack
    def test_versioned_producer(self):
        a = np.arange(12, dtype=np.float32).reshape(3, 4)
        producer = DLPackProducer(a[:, 1:])
        t = rai.as_tensor(producer)
        self.assertEqual(producer.calls, [{"max_version": (1, 0), "copy": False, "stream": None}])
        capsule = t.owner[0]
        self.assertEqual(type(capsule).__name__, "PyCapsule")
        self.assertEqual(t.data_ptr + t.byte_offset, a.ctypes.data + 4)
        self.assertEqual((t.dtype, t.shape, t.strides), ("f32", (3, 3), (4, 1)))
        self.assertEqual(t.device, rai.Device(rai.DeviceType.CPU, 0))
        self.assertFalse(t.readonly)

    def test_legacy_producer(self):
        a = np.arange(6, dtype=np.int64)
        producer = DLPackProducer(a, versioned=False)
        t = rai.as_tensor(producer)
        self.assertEqual(len(producer.calls), 2)  # the versioned request, then the legacy one
        self.assertEqual((t.dtype, t.shape, t.data_ptr + t.byte_offset), ("i64", (6,), a.ctypes.data))

    def test_copy_through_dlpack(self):
        b = np.zeros(8, dtype=np.float64)
        rai.tensor_copy(CTX, DLPackProducer(np.arange(4.0)), DLPackProducer(b[1::2]))
        np.testing.assert_array_equal(b, [0, 0, 0, 1, 0, 2, 0, 3])

    def test_capsule_keeps_memory_alive(self):
        t = rai.as_tensor(DLPackProducer(np.arange(5, dtype=np.int32) * 3))
        gc.collect()  # the array and the producer are only reachable through the capsule
        np.testing.assert_array_equal(np.asarray(t), [0, 3, 6, 9, 12])

    @requires_versioned_dlpack
    def test_read_only_flag(self):
        a = np.arange(4, dtype=np.float32)
        a.flags.writeable = False
        t = rai.as_tensor(DLPackProducer(a))
        self.assertTrue(t.readonly)
        with self.assertRaises(rai.InvalidArgumentError):
            rai.tensor_copy(CTX, np.ones(4, np.float32), DLPackProducer(a))
        out = np.zeros(4, np.float32)
        rai.tensor_copy(CTX, DLPackProducer(a), out)
        np.testing.assert_array_equal(out, a)

    def test_consumed_capsule(self):
        capsule = np.arange(3.0).__dlpack__()
        _pycapsule_set_name(capsule, _USED)  # as a consumer does; the array leaks, on purpose
        with self.assertRaises(ValueError):
            rai.from_dlpack_capsule(capsule)
        with self.assertRaises(TypeError):
            rai.from_dlpack_capsule(object())


class FakeCudaDLPackTest(unittest.TestCase):
    def test_cuda_descriptor(self):
        fake = FakeCudaDLPack(shape=(2, 5), strides=(8, 1), byte_offset=6)
        t = rai.as_tensor(fake, stream=0xABC)
        self.assertEqual(fake.streams, [0xABC])  # CUDA producers get the consumer's stream
        self.assertEqual(t.device, rai.Device(rai.DeviceType.CUDA, 3))
        self.assertEqual(str(t.device), "cuda:3")
        self.assertEqual(t.data_ptr, 0x7F0000001000)
        self.assertEqual((t.dtype, t.shape, t.strides, t.byte_offset), ("f16", (2, 5), (8, 1), 6))
        self.assertTrue(t.has_strides)
        self.assertFalse(hasattr(t, "__array_interface__"))
        cai = t.__cuda_array_interface__
        self.assertEqual(cai["data"], (0x7F0000001000 + 6, False))
        self.assertEqual((cai["typestr"], cai["strides"], cai["shape"]), ("<f2", (16, 2), (2, 5)))
        t.validate()

    def test_contiguous_and_versioned(self):
        fake = FakeCudaDLPack(shape=(4,), dtype=(1, 8, 1), versioned=True, flags=1)
        t = rai.as_tensor(fake)
        self.assertEqual(fake.streams, [None])
        self.assertFalse(t.has_strides)
        self.assertEqual(t.cdata.strides, ffi.NULL)
        self.assertEqual((t.dtype, t.strides, t.readonly), ("u8", (1,), True))

    def test_refusals(self):
        for kwargs in ({"versioned": True, "version": (2, 0)},
                       {"versioned": True, "flags": 2},          # IS_COPIED
                       {"dtype": (2, 32, 4)},                    # 4 lanes
                       {"dtype": (6, 8, 1)},                     # bool
                       {"device": (10, 0)}):                     # ROCm
            with self.assertRaises(TypeError, msg=str(kwargs)):
                rai.as_tensor(FakeCudaDLPack(shape=(2,), **kwargs))
        with self.assertRaises(rai.InvalidArgumentError):
            rai.as_tensor(FakeCudaDLPack(shape=(2,)), device="cuda:0")  # it is on cuda:3

    @requires_numpy
    def test_cpu_context_refuses_cuda_tensors(self):
        fake = FakeCudaDLPack(shape=(2, 5), device=(2, 0))
        with self.assertRaises(rai.DeviceMismatchError) as cm:
            rai.tensor_copy(CTX, fake, np.zeros((2, 5), np.float16))
        self.assertEqual(cm.exception.status, rai.Status.DEVICE_MISMATCH)
        self.assertEqual(cm.exception.message,
                         "src: tensor is on a CUDA device, the context computes on the CPU")


class CudaArrayInterfaceTest(unittest.TestCase):
    def test_descriptor(self):
        fake = FakeCudaArray(shape=(2, 3), typestr="<f4", data=(0x7F0000002000, False))
        t = rai.as_tensor(fake)
        self.assertEqual(t.device, rai.Device(rai.DeviceType.CUDA, 0))
        self.assertEqual((t.data_ptr, t.dtype, t.shape), (0x7F0000002000, "f32", (2, 3)))
        self.assertFalse(t.has_strides)
        self.assertEqual(t.strides, (3, 1))
        self.assertIs(t.owner, fake)
        t.validate()

    def test_strides_device_readonly(self):
        fake = FakeCudaArray(shape=(3, 2), typestr="<i8", data=(0x7F0000003000, True), strides=(8, 24))
        t = rai.as_tensor(fake, device="cuda:2")
        self.assertEqual((t.strides, t.device.id, t.readonly, t.dtype), ((1, 3), 2, True, "i64"))

        class Dev:
            index = 1
        fake.device = Dev()
        self.assertEqual(str(rai.as_tensor(fake).device), "cuda:1")

    def test_explicit_dtype(self):
        fake = FakeCudaArray(shape=(4,), typestr="<u2", data=(0x7F0000004000, False))
        self.assertEqual(rai.as_tensor(fake, dtype="bf16").dtype, "bf16")
        with self.assertRaises(TypeError):
            rai.as_tensor(fake)  # uint16 has no rai dtype

    def test_refusals(self):
        base = dict(shape=(2,), data=(0x7F0000005000, False))
        for extra in ({"typestr": "<c8"}, {"typestr": ">f4"}, {"typestr": "|O8"}, {"typestr": "f4"},
                      {"typestr": "<f4", "strides": (6,)}, {"typestr": "<f4", "mask": object()}):
            with self.assertRaises(TypeError, msg=str(extra)):
                rai.as_tensor(FakeCudaArray(**dict(base, **extra)))
        with self.assertRaises(rai.InvalidArgumentError):
            rai.as_tensor(FakeCudaArray(typestr="<f4", **base), device="cpu")

    @requires_numpy
    def test_cpu_context_refuses(self):
        fake = FakeCudaArray(shape=(2,), typestr="<f4", data=(0x7F0000006000, False))
        with self.assertRaises(rai.DeviceMismatchError) as cm:
            rai.tensor_copy(CTX, np.zeros(2, np.float32), fake)
        self.assertTrue(cm.exception.message.startswith("dst: "))


if __name__ == "__main__":
    unittest.main()
