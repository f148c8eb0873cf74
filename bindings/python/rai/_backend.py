"""Chooses how the binding reaches librai.

API mode (rai._rai_api, a compiled cffi extension linked against librai) is preferred; ABI mode
(rai._abi, ffi.dlopen) is the fallback, and RAI_PY_FORCE_ABI=1 forces it. Both expose the same
`ffi` and `lib`; nothing else in the package depends on the mode, except the log trampoline.
"""

import os

MODE = None          # "api" or "abi"
LIBRARY = None       # what was dlopen'ed in ABI mode; the extension's file in API mode
API_IMPORT_ERROR = None  # why API mode was not used, when it was not forced off


def _force_abi():
    return os.environ.get("RAI_PY_FORCE_ABI", "").strip().lower() not in ("", "0", "false", "no", "off")


def _load():
    global MODE, LIBRARY, API_IMPORT_ERROR
    if not _force_abi():
        try:
            from . import _rai_api
        except ImportError as exc:
            API_IMPORT_ERROR = exc
        else:
            MODE, LIBRARY = "api", _rai_api.__file__
            return _rai_api.ffi, _rai_api.lib
    from . import _abi
    MODE, LIBRARY = "abi", _abi.library
    return _abi.ffi, _abi.lib


ffi, lib = _load()

# The header the binding was generated from.
HEADER_VERSION = (lib.RAI_VERSION_MAJOR, lib.RAI_VERSION_MINOR, lib.RAI_VERSION_PATCH)
HEADER_VERSION_NUMBER = lib.RAI_VERSION_NUMBER


def _abi_compatible(header_number, library_number):
    """The rule of rai.h: during 0.x the minor is ABI-relevant (compare number // 100); from 1.0
    on, the same major with a library minor at least the header's."""
    if header_number // 10000 == 0:
        return header_number // 100 == library_number // 100
    return (header_number // 10000 == library_number // 10000
            and library_number // 100 >= header_number // 100)


_loaded_number = int(lib.rai_version_number())
if not _abi_compatible(HEADER_VERSION_NUMBER, _loaded_number):
    raise ImportError(
        f"rai: the loaded librai ({LIBRARY}) is version number {_loaded_number}, but this binding was "
        f"generated from rai.h version number {HEADER_VERSION_NUMBER}; they are not ABI compatible")
