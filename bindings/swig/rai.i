/*
 * rai.i: the one SWIG interface shared by the Go and C# bindings.
 *
 * It wraps the real public header (../../include/rai.h), never a copy, so every function added to
 * rai.h appears in the low-level bindings on the next build. The idiomatic layers
 * (bindings/go/*.go, bindings/csharp/Rai.cs) sit on top of what this file generates.
 *
 *   Go:  swig -go -cgo -intgosize 64 -package native -I<include> rai.i
 *   C#:  swig -csharp -namespace Rai.Native -dllimport rai_csharp -outfile rai_swig.cs -I<include> rai.i
 *
 * Notes:
 *  - RAI_API and RAI_DEPRECATED are blanked; the header hides its static inline helpers from SWIG
 *    (`#if !defined(SWIG)`), so the params constructors below call the exported *_init_sized
 *    functions with the size of the struct this wrapper was compiled against.
 *  - Never run SWIG with -DSWIGWORDSIZE64 for C#: stdint.i would then make int64_t a C `long`,
 *    which SWIG-C# maps to a 32-bit int.
 *  - rai_set_log_callback takes a C function pointer; SWIG cannot turn a Go func or a C# delegate
 *    into one, so it is ignored here and each language installs its own trampoline
 *    (Go: an //export function in bindings/go/log.go; C#: a delegate kept alive in Rai.cs, set
 *    through RaiCsharp_set_log_callback defined below).
 */
%module rai

%{
#include <stdlib.h>
#include "rai.h"
%}

/* size_t must be 64-bit in C#: SWIG's default maps it to a 32-bit uint while the C side takes a
 * full size_t. This must precede every declaration that uses size_t (including the pointer
 * helpers below). Go keeps SWIG's own mapping (int64 with -intgosize 64). */
#if defined(SWIGCSHARP)
%apply unsigned long long { size_t };
#endif

%include <stdint.i>
%include <cpointer.i>

#define RAI_API
#define RAI_DEPRECATED(msg)

/* ---------------------------------------------------------------- out-params
 * new_X() allocates a cell, X_value(p) reads it, delete_X(p) frees it. */
%pointer_functions(rai_context *, rai_context_pp);
%pointer_functions(rai_buffer *, rai_buffer_pp);
%pointer_functions(int32_t, int32_tp);
%pointer_functions(size_t, size_tp);
%pointer_functions(void *, void_pp);
%pointer_functions(char *, char_pp);
/* rai_system_info_json hands out a char* to release with rai_free: read the text through char_pp
 * and the raw pointer (for rai_free) through the same cell viewed as void**. */
%pointer_cast(char **, void **, char_pp_as_void_pp);

/* ---------------------------------------------------------------- callbacks */
%ignore rai_set_log_callback;

/* ------------------------------------------------------ per-language typemaps */
#if defined(SWIGGO)
/* Host byte ranges for rai_buffer_write / rai_buffer_read: a Go []byte, passed without a copy
 * (cgo allows it: the slice holds no Go pointers and rai never keeps the pointer). */
%typemap(gotype) (const void *src, size_t bytes), (void *dst, size_t bytes) "[]byte"
%typemap(in) (const void *src, size_t bytes) {
  $1 = ($1_ltype)$input.array;
  $2 = (size_t)$input.len;
}
%typemap(in) (void *dst, size_t bytes) {
  $1 = ($1_ltype)$input.array;
  $2 = (size_t)$input.len;
}
#endif

#if defined(SWIGCSHARP)
/* #define constants and enum values become C# compile-time constants (the header's values). */
%csconst(1);

/* Host byte ranges for rai_buffer_write / rai_buffer_read: a C# byte[] pinned with `fixed`
 * for the duration of the call, no copy. The byte count stays a separate argument at this level;
 * the idiomatic layer (Rai.cs) checks it against the array length. */
%typemap(ctype)  const void *src, void *dst "void *"
%typemap(imtype) const void *src, void *dst "global::System.IntPtr"
%typemap(cstype) const void *src, void *dst "byte[]"
%typemap(csin,
         pre="    fixed (byte* swig_pin_$csinput = $csinput) {",
         terminator="    }") const void *src, void *dst "(global::System.IntPtr)swig_pin_$csinput"
%typemap(in) const void *src, void *dst %{ $1 = ($1_ltype)$input; %}
/* `fixed` needs an unsafe context: make the generated classes unsafe, so every function rai.h
 * gains with such parameters compiles too (Rai.dll is built with -unsafe). */
%pragma(csharp) moduleclassmodifiers="public unsafe class"
%typemap(csclassmodifiers) SWIGTYPE "public unsafe class"

/* Glue for the log callback: C# passes a delegate marshalled as a cdecl function pointer. */
%{
SWIGEXPORT void SWIGSTDCALL RaiCsharp_set_log_callback(rai_log_callback callback) {
  rai_set_log_callback(callback, NULL);
}
%}
#endif

/* ---------------------------------------------------------- params structs
 * Structs that start with struct_size get a constructor returning library defaults with
 * struct_size = the size this wrapper was compiled against (TYPE_init_sized), and a destructor.
 * Add one line here for each such struct rai.h gains. */
%define RAI_SIZED_STRUCT(TYPE)
%extend TYPE {
  TYPE() {
    TYPE *p = (TYPE *)calloc(1, sizeof *p);
    if (p != NULL) TYPE##_init_sized(p, sizeof *p);
    return p;
  }
  ~TYPE() { free($self); }
}
%enddef

RAI_SIZED_STRUCT(rai_context_params)
RAI_SIZED_STRUCT(rai_device_info)

%include "../../include/rai.h"
