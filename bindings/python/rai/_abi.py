"""ABI mode: librai opened at run time with ffi.dlopen. Needs no C compiler, only cffi.

Library candidates, in order: $RAI_LIBRARY, librai.so.0 (the SONAME, found through the normal
dynamic-linker search: LD_LIBRARY_PATH, ld.so.cache, ...), ctypes.util.find_library('rai').
"""

import ctypes.util
import os
import warnings

import cffi

from ._cdef import CDEF
from ._extra_cdef import DLPACK_CDEF

ffi = cffi.FFI()
ffi.cdef(CDEF)
ffi.cdef(DLPACK_CDEF)


def library_candidates():
    """The names or paths ffi.dlopen is tried with, in order."""
    candidates = []
    env = os.environ.get("RAI_LIBRARY", "")
    if env:
        candidates.append(env)
    candidates.append("librai.so.0")
    found = ctypes.util.find_library("rai")
    if found and found not in candidates:
        candidates.append(found)
    return candidates


def _open():
    errors = []
    env = os.environ.get("RAI_LIBRARY", "")
    for candidate in library_candidates():
        try:
            lib = ffi.dlopen(candidate)
        except OSError as exc:
            errors.append(f"  {candidate}: {exc}")
            continue
        if env and candidate != env:
            warnings.warn(f"rai: RAI_LIBRARY={env!r} could not be loaded; using {candidate!r} instead",
                          RuntimeWarning, stacklevel=3)
        return lib, candidate
    raise ImportError("rai: cannot load librai (ABI mode). Set RAI_LIBRARY to the path of "
                      "librai.so.0 or put its directory on LD_LIBRARY_PATH. Tried:\n" + "\n".join(errors))


lib, library = _open()
