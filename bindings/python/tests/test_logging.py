"""Log level and callback. The CPU-fallback warning is emitted once per process and the CUDA
plugin is loaded once per process, so those paths run in fresh interpreters."""

import unittest

import rai

from rai_test_support import run_python, run_python_json

# Collects records in the child; prints them as JSON at the end.
_PRELUDE = """
import json, threading, rai
records = []
def collect(level, message):
    records.append([int(level), type(level).__name__, message, threading.current_thread().name])
"""


class LogLevelTest(unittest.TestCase):
    def setUp(self):
        self.saved = rai.get_log_level()

    def tearDown(self):
        rai.set_log_level(self.saved)

    def test_default_and_round_trip(self):
        self.assertIsInstance(rai.get_log_level(), rai.LogLevel)
        for level in rai.LogLevel:
            rai.set_log_level(level)
            self.assertIs(rai.get_log_level(), level)
        rai.set_log_level("debug")
        self.assertEqual(rai.get_log_level(), rai.LogLevel.DEBUG)
        rai.set_log_level("Warning")
        self.assertEqual(rai.get_log_level(), rai.LogLevel.WARN)
        rai.set_log_level(3)
        self.assertEqual(rai.get_log_level(), rai.LogLevel.ERROR)

    def test_bad_levels(self):
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            rai.set_log_level(5)
        self.assertEqual(cm.exception.message, "level 5 is not a rai_log_level")
        with self.assertRaises(rai.InvalidArgumentError):
            rai.set_log_level(-1)
        with self.assertRaises(rai.InvalidArgumentError):
            rai.set_log_level("loud")

    def test_default_level_is_warn(self):
        result, _ = run_python_json(self, "import rai, json; print(json.dumps(int(rai.get_log_level())))")
        self.assertEqual(result, int(rai.LogLevel.WARN))


class LogCallbackTest(unittest.TestCase):
    def test_set_and_remove(self):
        def fn(level, message):
            pass

        previous = rai.set_log_callback(fn)
        try:
            self.assertIs(rai.get_log_callback(), fn)
            self.assertIs(rai.set_log_callback(None), fn)
            self.assertIsNone(rai.get_log_callback())
        finally:
            rai.set_log_callback(previous)
        with self.assertRaises(TypeError):
            rai.set_log_callback("not callable")

    def test_cpu_fallback_warning_once(self):
        # cuda:99 does not exist on any machine: a non-strict request falls back to the CPU with
        # one warning per process, delivered through the callback (here on a worker thread).
        code = _PRELUDE + """
rai.set_log_callback(collect)
def work():
    with rai.Context("cuda:99", ignore_env=True) as ctx:
        assert str(ctx.device) == "cpu", ctx.device
t = threading.Thread(target=work, name="worker")
t.start(); t.join()
with rai.Context("cuda:98", ignore_env=True):
    pass
print(json.dumps(records))
"""
        records, proc = run_python_json(self, code)
        self.assertEqual(len(records), 1, records)
        level, level_type, message, thread = records[0]
        self.assertEqual((level, level_type, thread), (int(rai.LogLevel.WARN), "LogLevel", "worker"))
        self.assertTrue(message.startswith("rai: running on the CPU: CUDA device 99 requested"), message)
        self.assertEqual(proc.stderr, "")

    def test_nothing_printed_without_callback(self):
        proc = run_python("import rai\nrai.set_log_level('debug')\nrai.Context('cuda:99', ignore_env=True)\n"
                          "rai.cuda_device_count()\n")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual((proc.stdout, proc.stderr), ("", ""))

    def test_debug_records_and_removal(self):
        code = _PRELUDE + """
rai.set_log_level("debug")
rai.set_log_callback(collect)
rai.cuda_device_count()            # loads the CUDA plugin (or fails to): one DEBUG record
loaded = list(records)
rai.set_log_callback(None)
rai.Context("cuda:99", ignore_env=True)   # the fallback warning goes nowhere now
print(json.dumps({"loaded": loaded, "after": records[len(loaded):]}))
"""
        result, _ = run_python_json(self, code)
        self.assertEqual(result["after"], [])
        plugin = [r for r in result["loaded"] if "CUDA plugin" in r[2]]
        self.assertEqual(len(plugin), 1, result)
        self.assertEqual(plugin[0][0], int(rai.LogLevel.DEBUG))
        self.assertIn(rai.cuda_plugin_status(), plugin[0][2])

    def test_level_filters(self):
        code = _PRELUDE + """
rai.set_log_level("error")
rai.set_log_callback(collect)
rai.Context("cuda:99", ignore_env=True)
print(json.dumps(records))
"""
        records, _ = run_python_json(self, code)
        self.assertEqual(records, [])

    def test_callback_exception_is_reported_not_raised(self):
        code = """
import rai
def broken(level, message):
    raise RuntimeError("callback failed on purpose")
rai.set_log_callback(broken)
with rai.Context("cuda:99", ignore_env=True) as ctx:
    print(ctx.device)
"""
        proc = run_python(code)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.strip(), "cpu")
        self.assertIn("Exception ignored in the rai log callback", proc.stderr)
        self.assertIn("RuntimeError: callback failed on purpose", proc.stderr)

    def test_log_to_python(self):
        code = """
import json, logging, rai
seen = []
class Keep(logging.Handler):
    def emit(self, record):
        seen.append([record.name, record.levelname, record.getMessage()])
logging.getLogger("rai").addHandler(Keep())
logging.getLogger("rai").setLevel(logging.DEBUG)
rai.log_to_python()
rai.Context("cuda:99", ignore_env=True)
print(json.dumps(seen))
"""
        seen, _ = run_python_json(self, code)
        self.assertEqual(len(seen), 1, seen)
        self.assertEqual(seen[0][:2], ["rai", "WARNING"])
        self.assertIn("running on the CPU", seen[0][2])


if __name__ == "__main__":
    unittest.main()
