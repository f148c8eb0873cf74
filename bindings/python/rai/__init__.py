"""Python binding of rai (cffi).

The binding reaches librai through the compiled API-mode extension rai._rai_api when it is there
(built by Meson), else through ABI mode (ffi.dlopen of $RAI_LIBRARY, librai.so.0, or what
ctypes.util.find_library('rai') finds). RAI_PY_FORCE_ABI=1 forces ABI mode; binding_mode() says
which one is in use.

Every failing rai call raises a RaiError subclass with .status (a Status) and .message (the
detail from rai_last_error_message(), naming the offending argument).

    import rai
    with rai.Context("auto") as ctx, rai.Buffer(ctx, 16) as buf:
        buf.write(b"0123456789abcdef")
        assert buf.read(4, offset=10) == b"abcd"
"""

from ._backend import HEADER_VERSION, HEADER_VERSION_NUMBER
# Raw cffi access to every function of rai.h, for capabilities without a Pythonic layer yet.
from ._backend import ffi, lib
from ._context import Buffer, Context, Device, DeviceType
from ._errors import (
    BackendError,
    BufferTooSmallError,
    CancelledError,
    DeviceMismatchError,
    DTypeMismatchError,
    FormatError,
    InputOutputError,
    InternalError,
    InvalidArgumentError,
    LayoutError,
    NoDeviceError,
    OutOfMemoryError,
    OutOfRangeError,
    RaiError,
    ShapeMismatchError,
    Status,
    StructSizeError,
    UnsupportedError,
    error_class,
    last_error_message,
    status_string,
)
from ._runtime import (
    CpuFeature,
    CudaDeviceInfo,
    LogLevel,
    binding_mode,
    build_info,
    cpu_dispatch_level,
    cpu_feature_names,
    cpu_features,
    cpu_features_detected,
    cuda_device_count,
    cuda_device_info,
    cuda_devices,
    cuda_plugin_loaded,
    cuda_plugin_status,
    get_log_callback,
    get_log_level,
    log_to_python,
    set_cpu_feature_mask,
    set_log_callback,
    set_log_level,
    system_info,
    version,
    version_info,
    version_number,
)
from ._tensor import DTYPES, Tensor, as_tensor, dtype_size, from_dlpack_capsule, tensor_copy
# Ternary/VSA, the tritter-accel function set, BitNet, NF4/FP4 and the file formats.
from . import bitnet, files, quant4, ternary, tritter, vsa
from .bitnet import BitLinear, TernaryWeight
from .files import GGUFReader, GGUFWriter, SafetensorsFile, SafetensorsWriter
from .quant4 import QuantState, dequantize_4bit, quantize_4bit
from .ternary import Tryte, Word
from .tritter import (pack_ternary_weights, unpack_ternary_weights, vsa_bind, vsa_bundle, vsa_random,
                      vsa_similarity, vsa_unbind)
from .vsa import ItemMemory, SparseTritVector, TritVector

# The version of the header this binding was generated from (the loaded library's version is
# version()).
__version__ = "%d.%d.%d" % HEADER_VERSION

__all__ = [
    "ffi",
    "lib",
    "HEADER_VERSION", "HEADER_VERSION_NUMBER", "__version__",
    "Buffer", "Context", "Device", "DeviceType",
    "RaiError", "Status", "status_string", "last_error_message", "error_class",
    "BackendError", "BufferTooSmallError", "CancelledError", "DeviceMismatchError",
    "DTypeMismatchError", "FormatError", "InputOutputError", "InternalError",
    "InvalidArgumentError", "LayoutError", "NoDeviceError", "OutOfMemoryError", "OutOfRangeError",
    "ShapeMismatchError", "StructSizeError", "UnsupportedError",
    "CpuFeature", "CudaDeviceInfo", "LogLevel", "binding_mode", "build_info", "cpu_dispatch_level",
    "cpu_feature_names", "cpu_features", "cpu_features_detected", "cuda_device_count",
    "cuda_device_info", "cuda_devices", "cuda_plugin_loaded", "cuda_plugin_status",
    "get_log_callback", "get_log_level", "log_to_python", "set_cpu_feature_mask",
    "set_log_callback", "set_log_level", "system_info", "version", "version_info",
    "version_number",
    "DTYPES", "Tensor", "as_tensor", "dtype_size", "from_dlpack_capsule", "tensor_copy",
]
__all__ += [
    "bitnet", "files", "quant4", "ternary", "tritter", "vsa",
    "BitLinear", "TernaryWeight", "GGUFReader", "GGUFWriter", "SafetensorsFile", "SafetensorsWriter",
    "QuantState", "dequantize_4bit", "quantize_4bit", "Tryte", "Word",
    "pack_ternary_weights", "unpack_ternary_weights", "vsa_bind", "vsa_bundle", "vsa_random",
    "vsa_similarity", "vsa_unbind", "ItemMemory", "SparseTritVector", "TritVector",
]

# Adapters, gradient compression and hybrid training (rai.adapters, rai.compress, rai.train;
# the PyTorch DDP hook is rai.torch_hooks, imported on demand because it needs torch).
from .adapters import (AdapterBias, AdapterInit, AdapterModel, Combination, LoraGrads, PeftType,
                       lora_linear_backward, lora_linear_forward, lora_linear_forward_mixed,
                       qlora_linear_backward, qlora_linear_forward)
from .compress import GCMethod, GCStats, GradientCompressor, has_mpi
from .train import (Divergence, HybridEvent, HybridSignal, HybridStats, HybridTrainer, LossModel,
                    Optimizer, OptimizerKind, Phase, Predictor, Schedule, StepInfo, StepResult,
                    phase_name)

__all__ += [
    "AdapterBias", "AdapterInit", "AdapterModel", "Combination", "LoraGrads", "PeftType",
    "lora_linear_backward", "lora_linear_forward", "lora_linear_forward_mixed",
    "qlora_linear_backward", "qlora_linear_forward",
    "GCMethod", "GCStats", "GradientCompressor", "has_mpi",
    "Divergence", "HybridEvent", "HybridSignal", "HybridStats", "HybridTrainer", "LossModel",
    "Optimizer", "OptimizerKind", "Phase", "Predictor", "Schedule", "StepInfo", "StepResult",
    "phase_name",
]
