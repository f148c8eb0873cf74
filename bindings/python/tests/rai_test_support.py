"""Shared helpers of the binding's tests (kept out of the package on purpose)."""

import contextlib
import json
import os
import re
import subprocess
import sys
import unittest

import rai

try:
    import numpy as np
except ImportError:  # the numpy-based tests skip
    np = None

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
BINDING_DIR = os.path.dirname(TESTS_DIR)
SOURCE_ROOT = os.path.dirname(os.path.dirname(BINDING_DIR))

HAS_GPU = rai.cuda_device_count() > 0
requires_numpy = unittest.skipIf(np is None, "numpy is not installed")
requires_gpu = unittest.skipUnless(HAS_GPU, "no CUDA device (rai.cuda_device_count() == 0)")
requires_no_gpu = unittest.skipIf(HAS_GPU, "a CUDA device is present")


def header_path():
    return os.environ.get("RAI_HEADER") or os.path.join(SOURCE_ROOT, "include", "rai.h")


def header_text():
    with open(header_path(), encoding="utf-8") as f:
        return f.read()


def header_macros():
    """{name: value} of the `#define RAI_X value` lines of rai.h (strings unquoted)."""
    macros = {}
    for name, value in re.findall(r"^#define\s+(RAI_[A-Z0-9_]+)[ \t]+(.+?)\s*$", header_text(), re.M):
        value = re.sub(r"/\*.*?(\*/|$)", "", value).strip()
        if value.startswith('"'):
            macros[name] = value.strip('"')
        else:
            m = re.match(r"^(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*$", value)
            if m:
                macros[name] = int(m.group(1), 0)
    return macros


def header_enum(typedef_name):
    """{enumerator: value} of `typedef enum <typedef_name> {...}` in rai.h."""
    m = re.search(r"typedef\s+enum\s+%s\s*\{(.*?)\}" % typedef_name, header_text(), re.S)
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    return {name: int(value, 0) for name, value in re.findall(r"(\w+)\s*=\s*(\w+)", body)}


@contextlib.contextmanager
def environ(**values):
    """Temporarily sets (str) or removes (None) environment variables; librai sees them too."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def module_fixture(module_globals, cpu_context=False):
    """(setUpModule, tearDownModule) for a test module: while its tests run, an RAI_DEVICE from
    the caller's shell is removed (the tests choose devices themselves), and with cpu_context
    the module's global CTX is a rai.Context("cpu"), closed at the end. Use:
    setUpModule, tearDownModule = module_fixture(globals(), cpu_context=True)"""
    env = environ(RAI_DEVICE=None)
    module_globals.setdefault("CTX", None)

    def set_up():
        env.__enter__()
        if cpu_context:
            module_globals["CTX"] = rai.Context("cpu")

    def tear_down():
        if cpu_context:
            module_globals["CTX"].close()
        env.__exit__(None, None, None)

    return set_up, tear_down


def run_python(code, **env):
    """Runs `code` in a fresh interpreter with this process's environment (same binding mode,
    PYTHONPATH, RAI_LIBRARY) minus RAI_DEVICE, plus `env`. Returns the CompletedProcess."""
    child_env = dict(os.environ)
    child_env.pop("RAI_DEVICE", None)
    child_env.update(env)
    return subprocess.run([sys.executable, "-c", code], env=child_env, capture_output=True,
                          text=True, timeout=120)


def run_python_json(testcase, code, **env):
    """Runs `code`, which must print one JSON document as its last line, and returns it."""
    proc = run_python(code, **env)
    testcase.assertEqual(proc.returncode, 0, f"child failed:\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc
