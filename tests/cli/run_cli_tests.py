#!/usr/bin/env python3
"""Runs the `rai quantize` / `rai inspect` tests (test_*.py here) with unittest.

Usage: run_cli_tests.py RAI_EXECUTABLE SCRATCH_DIR
They need numpy and rai's Python binding (PYTHONPATH=<build>/bindings/python, RAI_LIBRARY); when
either cannot be imported the run is skipped (exit 77)."""
import os
import sys
import unittest

if __name__ == "__main__":
    os.environ["RAI_CLI"], os.environ["RAI_CLI_WORKDIR"] = sys.argv[1], sys.argv[2]
    os.makedirs(sys.argv[2], exist_ok=True)
    try:
        import numpy  # noqa: F401
        import rai  # noqa: F401
    except ImportError as e:
        print(f"skipped: {e}")
        sys.exit(77)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py", top_level_dir=here)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)
