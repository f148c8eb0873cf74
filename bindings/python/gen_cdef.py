#!/usr/bin/env python3
"""Generate the cffi cdef of rai from include/rai.h, without a C compiler.

cffi's cdef parser accepts plain C declarations only: no preprocessor conditionals, no
attributes, no system headers, no static inline functions. This script runs a small
preprocessor over rai.h that

  * evaluates #if / #ifdef / #ifndef / #elif / #else / #endif with RAI_CFFI_CDEF, RAI_API and
    RAI_DEPRECATED taken as defined and everything else (__cplusplus, SWIG, _WIN32, ...) as not
    defined, so the RAI_API / RAI_DEPRECATED definition blocks, the extern "C" guards and the
    static inline conveniences drop out;
  * drops #include, #pragma, #undef and every #define except `#define RAI_X <integer>`, which
    cffi turns into an integer constant (string macros such as RAI_VERSION_STRING are dropped);
  * removes comments and the RAI_API / RAI_DEPRECATED(...) markers from declarations.

Usage:  gen_cdef.py path/to/rai.h -o path/to/_cdef.py [--no-check]

The result is a module with CDEF (the cdef text) and HEADER_SHA256 (of the header it came
from). Unless --no-check is given, and if cffi is importable, the cdef is parsed by cffi once so
that a header cffi cannot read fails the build here rather than at import time.
"""

import argparse
import hashlib
import os
import re
import sys

# Macros the cdef is generated under. RAI_API and RAI_DEPRECATED count as defined (and empty),
# so the header's own fallback definitions of them are skipped.
PREDEFINED = {"RAI_CFFI_CDEF": 1, "RAI_API": None, "RAI_DEPRECATED": None}

_INT_LITERAL = re.compile(r"^\(?\s*(-?)\s*(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*\s*\)?$")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_DEFINE = re.compile(r"^define\s+([A-Za-z_][A-Za-z_0-9]*)(\()?\s*(.*)$")
_DEPRECATED_USE = re.compile(r'\bRAI_DEPRECATED\s*\((?:"(?:\\.|[^"\\])*"|[^()"])*\)')
_API_USE = re.compile(r"\bRAI_API\b[ \t]*")


class CdefError(Exception):
    """The header uses something this generator cannot turn into a cdef."""


def strip_comments(text):
    """Removes /* */ and // comments, keeping string and character literals and line breaks."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and i + 1 < n and text[i + 1] == "*":
            end = text.find("*/", i + 2)
            if end < 0:
                raise CdefError("unterminated /* comment")
            # Keep the line structure so that line numbers in errors stay right.
            out.append(" " + "\n" * text.count("\n", i, end))
            i = end + 2
        elif c == "/" and i + 1 < n and text[i + 1] == "/":
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def logical_lines(text):
    """Yields (line_number, line) with backslash continuations joined."""
    pending, start = [], None
    for number, line in enumerate(text.split("\n"), 1):
        if start is None:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        yield start, " ".join(pending) if len(pending) > 1 else pending[0]
        pending, start = [], None
    if pending:
        yield start, " ".join(pending)


def parse_int(value):
    """The integer value of a C integer literal such as 0x10u or 100, else None."""
    m = _INT_LITERAL.match(value.strip())
    if not m:
        return None
    return int(m.group(1) + m.group(2), 0)


def eval_condition(expr, macros, line):
    """Evaluates a #if expression: defined(X), !, &&, ||, comparisons, integers, parentheses."""
    tokens = []
    pos = 0
    expr = expr.strip()
    while pos < len(expr):
        c = expr[pos]
        if c.isspace():
            pos += 1
            continue
        m = _IDENT.match(expr, pos)
        if m:
            name = m.group(0)
            pos = m.end()
            if name == "defined":
                m2 = re.compile(r"\s*(\()?\s*([A-Za-z_][A-Za-z_0-9]*)\s*(\))?").match(expr, pos)
                if not m2 or bool(m2.group(1)) != bool(m2.group(3)):
                    raise CdefError(f"line {line}: cannot parse defined() in '#if {expr}'")
                tokens.append("1" if m2.group(2) in macros else "0")
                pos = m2.end()
            else:
                value = macros.get(name)
                tokens.append(str(value) if isinstance(value, int) else "0")
            continue
        m = re.compile(r"0[xX][0-9a-fA-F]+|[0-9]+").match(expr, pos)
        if m:
            tokens.append(str(int(m.group(0), 0)))
            pos = m.end()
            pos += len(re.compile(r"[uUlL]*").match(expr, pos).group(0))
            continue
        for op, py in (("&&", " and "), ("||", " or "), ("==", "=="), ("!=", "!="), (">=", ">="),
                       ("<=", "<="), ("!", " not "), ("(", "("), (")", ")"), ("<", "<"), (">", ">")):
            if expr.startswith(op, pos):
                tokens.append(py)
                pos += len(op)
                break
        else:
            raise CdefError(f"line {line}: unsupported token {expr[pos:]!r} in '#if {expr}'")
    try:
        return bool(eval("".join(tokens), {"__builtins__": {}}, {}))  # only 0/1/ints/operators
    except Exception as exc:  # SyntaxError, or e.g. "0()" calling an int
        raise CdefError(f"line {line}: cannot evaluate '#if {expr}'") from exc


def generate_cdef(header_text):
    """Returns the cffi cdef for the text of rai.h."""
    macros = dict(PREDEFINED)
    # Stack of (this branch active, some branch of this #if already taken, enclosing active).
    stack = []
    active = True
    body, defines = [], []

    for number, line in logical_lines(strip_comments(header_text)):
        stripped = line.strip()
        if stripped.startswith("#"):
            directive = stripped[1:].strip()
            word = _IDENT.match(directive)
            word = word.group(0) if word else ""
            rest = directive[len(word):].strip()
            if word in ("if", "ifdef", "ifndef"):
                if word == "ifdef":
                    cond = rest in macros
                elif word == "ifndef":
                    cond = rest not in macros
                else:
                    cond = eval_condition(rest, macros, number) if active else False
                stack.append([active and cond, active and cond, active])
                active = active and cond
            elif word == "elif":
                if not stack:
                    raise CdefError(f"line {number}: #elif without #if")
                top = stack[-1]
                cond = (not top[1]) and top[2] and eval_condition(rest, macros, number)
                top[0] = cond
                top[1] = top[1] or cond
                active = cond
            elif word == "else":
                if not stack:
                    raise CdefError(f"line {number}: #else without #if")
                top = stack[-1]
                top[0] = top[2] and not top[1]
                top[1] = True
                active = top[0]
            elif word == "endif":
                if not stack:
                    raise CdefError(f"line {number}: #endif without #if")
                stack.pop()
                active = stack[-1][0] if stack else True
            elif not active:
                continue
            elif word == "define":
                m = _DEFINE.match(directive)
                if not m:
                    raise CdefError(f"line {number}: cannot parse '#{directive}'")
                name, function_like, value = m.group(1), m.group(2), m.group(3).strip()
                number_value = None if function_like else parse_int(value)
                macros[name] = number_value
                if name.startswith("RAI_") and number_value is not None:
                    defines.append(f"#define {name} {_format_int(value, number_value)}")
            elif word == "undef":
                macros.pop(rest, None)
            elif word == "error":
                raise CdefError(f"line {number}: #error {rest}")
            elif word in ("include", "pragma", "line", ""):
                pass
            else:
                raise CdefError(f"line {number}: unsupported directive '#{word}'")
            continue
        if not active:
            continue
        line = _DEPRECATED_USE.sub("", line)
        line = _API_USE.sub("", line)
        body.append(line.rstrip())

    if stack:
        raise CdefError("unterminated #if at the end of the header")

    text = "\n".join(body)
    if re.search(r'extern\s+"C"', text):
        raise CdefError('an extern "C" block is not inside #ifdef __cplusplus')
    if re.search(r"\b(static|inline)\b", text):
        raise CdefError("a static/inline definition is outside the "
                        "#if !defined(SWIG) && !defined(RAI_CFFI_CDEF) guard")
    # Collapse runs of blank lines and tidy the whitespace left by removed markers.
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
    return "\n".join(defines) + "\n\n" + text + "\n"


def _format_int(literal, value):
    """A cffi-friendly spelling of an integer literal: hex stays hex, suffixes go."""
    lit = literal.strip().strip("()").strip().rstrip("uUlL")
    if lit.lower().startswith(("0x", "-0x")):
        return lit
    return str(value)


def _python_string(text):
    if '"""' not in text and "\\" not in text and not text.endswith('"'):
        return '"""\\\n' + text + '"""'  # the backslash keeps the first newline out
    return repr(text)


def render_module(cdef, header_text, header_name):
    digest = hashlib.sha256(header_text.encode("utf-8")).hexdigest()
    return (
        f"# Generated by bindings/python/gen_cdef.py from {header_name}. Do not edit.\n"
        f'"""The cffi cdef of rai, generated from the public header."""\n\n'
        f'HEADER_SHA256 = "{digest}"\n\n'
        f"CDEF = {_python_string(cdef)}\n"
    )


def check_with_cffi(cdef):
    try:
        import cffi
    except ImportError:
        return False
    cffi.FFI().cdef(cdef)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("header", help="path to rai.h")
    parser.add_argument("-o", "--output", required=True, help="module to write (_cdef.py)")
    parser.add_argument("--no-check", action="store_true", help="do not parse the result with cffi")
    args = parser.parse_args(argv)

    with open(args.header, encoding="utf-8") as f:
        header_text = f.read()
    try:
        cdef = generate_cdef(header_text)
        if not args.no_check:
            check_with_cffi(cdef)
    except CdefError as exc:
        print(f"gen_cdef.py: {args.header}: {exc}", file=sys.stderr)
        return 1
    module = render_module(cdef, header_text, os.path.basename(args.header))
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(module)
    os.replace(tmp, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
