#!/usr/bin/env python3
"""Emit the C source of rai's API-mode (out-of-line) cffi extension, rai._rai_api.

Meson runs this as a custom_target and compiles the result itself with py.extension_module,
linking librai; no setuptools is involved. Compiling against the real rai.h means the C compiler
checks every declaration of the generated cdef (struct layouts, signatures, constants).

Usage:  build_rai_api.py --cdef build/.../rai/_cdef.py --extra rai/_extra_cdef.py -o _rai_api.c
"""

import argparse
import contextlib
import io
import os
import runpy
import sys

import cffi

MODULE_NAME = "rai._rai_api"


def make_ffibuilder(cdef, extra):
    """A cffi FFI set up for the API-mode module, from the cdef text and the _extra_cdef module."""
    ffibuilder = cffi.FFI()
    ffibuilder.cdef(cdef)
    ffibuilder.cdef(extra["DLPACK_CDEF"])
    ffibuilder.cdef(extra["API_CALLBACK_CDEF"])
    ffibuilder.set_source(MODULE_NAME, '#include "rai.h"\n' + extra["DLPACK_CDEF"])
    return ffibuilder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cdef", required=True, help="the generated _cdef.py")
    parser.add_argument("--extra", required=True, help="rai/_extra_cdef.py")
    parser.add_argument("-o", "--output", required=True, help="C file to write")
    args = parser.parse_args(argv)

    cdef = runpy.run_path(args.cdef)["CDEF"]
    extra = runpy.run_path(args.extra)
    ffibuilder = make_ffibuilder(cdef, extra)
    tmp = args.output + ".tmp"
    with contextlib.redirect_stdout(io.StringIO()):  # cffi prints "generating <file>"
        ffibuilder.emit_c_code(tmp)
    os.replace(tmp, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
