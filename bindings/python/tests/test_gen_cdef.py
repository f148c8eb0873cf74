"""The cdef generator: its preprocessor on small inputs, and its output for the real header."""

import importlib.util
import os
import unittest

import rai

from rai_test_support import BINDING_DIR, header_text


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_cdef", os.path.join(BINDING_DIR, "gen_cdef.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_cdef = _load_generator()


class GeneratorTest(unittest.TestCase):
    def test_real_header_matches_the_package(self):
        from rai import _cdef

        self.assertEqual(gen_cdef.generate_cdef(header_text()), _cdef.CDEF)

    def test_real_header_output(self):
        cdef = gen_cdef.generate_cdef(header_text())
        for absent in ("#include", "#if", "RAI_API", "RAI_DEPRECATED", 'extern "C"', "static inline",
                       "RAI_VERSION_STRING", "__cplusplus", "/*"):
            self.assertNotIn(absent, cdef)
        self.assertIn("#define RAI_VERSION_NUMBER %d" % rai.HEADER_VERSION_NUMBER, cdef)
        self.assertIn("#define RAI_CPU_AVX2 0x2\n", cdef)
        self.assertIn("rai_status rai_tensor_copy(rai_context *ctx, const rai_tensor *src, rai_tensor *dst);", cdef)

    def test_conditionals(self):
        header = """
#ifndef GUARD_H
#define GUARD_H
#include <stdint.h>
#ifndef RAI_API
#  define RAI_API __attribute__((visibility("default")))
#endif
#ifndef RAI_DEPRECATED
#  define RAI_DEPRECATED(msg) __attribute__((deprecated(msg)))
#endif
#ifdef __cplusplus
extern "C" {
#endif
#define RAI_A 0x20u   /* hex keeps its spelling */
#define RAI_B (12)
#define RAI_NEG -3
#define RAI_S "a string"
#define RAI_F(x) ((x) + 1)
#define OTHER_MACRO 5
#if defined(SWIG) || !defined(RAI_CFFI_CDEF)
int hidden(void);
#elif RAI_B > 10 && defined RAI_A
RAI_API int shown(int32_t x); // comment
RAI_API RAI_DEPRECATED("use shown()") int old(void);
#else
int also_hidden(void);
#endif
#if 0
#error never
#endif
#if !defined(SWIG) && !defined(RAI_CFFI_CDEF)
static inline int helper(void) { return 1; }
#endif
#ifdef __cplusplus
}
#endif
#endif
"""
        cdef = gen_cdef.generate_cdef(header)
        self.assertEqual(cdef, "#define RAI_A 0x20\n#define RAI_B 12\n#define RAI_NEG -3\n\n"
                               "int shown(int32_t x);\nint old(void);\n")
        import cffi

        ffi = cffi.FFI()
        ffi.cdef(cdef)
        self.assertEqual(ffi.typeof("int(*)(int32_t)").cname, "int(*)(int32_t)")

    def test_errors(self):
        for bad in ("#if 1\nint x;\n", "#endif\n", "#error stop\n", "#if FOO(\n#endif\n",
                    "/* open comment\n", "static inline int f(void) { return 0; }\n",
                    'extern "C" {\n}\n', "#warning hmm\n"):
            with self.assertRaises(gen_cdef.CdefError, msg=bad):
                gen_cdef.generate_cdef(bad)

    def test_module_round_trip(self):
        cdef = gen_cdef.generate_cdef(header_text())
        namespace = {}
        exec(gen_cdef.render_module(cdef, header_text(), "rai.h"), namespace)
        self.assertEqual(namespace["CDEF"], cdef)
        self.assertEqual(len(namespace["HEADER_SHA256"]), 64)
        tricky = 'x = "\\\\"; y = """quoted"""\n'
        namespace = {}
        exec(gen_cdef.render_module(tricky, "", "t.h"), namespace)
        self.assertEqual(namespace["CDEF"], tricky)


if __name__ == "__main__":
    unittest.main()
