"""Builds the ABI-mode rai package (no C compiler needed).

The cdef is generated from rai.h at build time. The header is looked up in this order:
  1. $RAI_INCLUDE_DIR/rai.h
  2. ../../include/rai.h (building from a rai source tree)
  3. $(pkg-config --variable=includedir rai)/rai.h (an installed librai)
At run time the package loads librai via $RAI_LIBRARY, librai.so.0, or find_library('rai').
"""

import importlib.util
import os
import re
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def find_header():
    tried = []
    env = os.environ.get("RAI_INCLUDE_DIR")
    if env:
        path = os.path.join(env, "rai.h")
        if os.path.isfile(path):
            return path
        raise SystemExit(f"rai: RAI_INCLUDE_DIR={env!r} has no rai.h")
    in_tree = os.path.normpath(os.path.join(HERE, "..", "..", "include", "rai.h"))
    if os.path.isfile(in_tree):
        return in_tree
    tried.append(in_tree)
    try:
        includedir = subprocess.run(["pkg-config", "--variable=includedir", "rai"], check=True,
                                    capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        tried.append(f"pkg-config rai ({exc})")
    else:
        path = os.path.join(includedir, "rai.h")
        if os.path.isfile(path):
            return path
        tried.append(path)
    raise SystemExit("rai: cannot find rai.h; set RAI_INCLUDE_DIR. Tried: " + "; ".join(tried))


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_cdef", os.path.join(HERE, "gen_cdef.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def header_version(text):
    parts = []
    for field in ("MAJOR", "MINOR", "PATCH"):
        m = re.search(r"^#define\s+RAI_VERSION_%s\s+([0-9]+)" % field, text, re.M)
        if not m:
            raise SystemExit(f"rai: rai.h has no RAI_VERSION_{field}")
        parts.append(m.group(1))
    return ".".join(parts)


HEADER = find_header()
with open(HEADER, encoding="utf-8") as f:
    HEADER_TEXT = f.read()


class build_py_with_cdef(build_py):
    """build_py that also writes rai/_cdef.py, generated from rai.h, into the build directory."""

    def run(self):
        super().run()
        generator = load_generator()
        cdef = generator.generate_cdef(HEADER_TEXT)
        generator.check_with_cffi(cdef)
        target_dir = os.path.join(self.build_lib, "rai")
        os.makedirs(target_dir, exist_ok=True)
        with open(os.path.join(target_dir, "_cdef.py"), "w", encoding="utf-8") as f:
            f.write(generator.render_module(cdef, HEADER_TEXT, "rai.h"))

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + [os.path.join(self.build_lib, "rai", "_cdef.py")]


setup(version=header_version(HEADER_TEXT), cmdclass={"build_py": build_py_with_cdef})
