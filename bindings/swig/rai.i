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
 *  - SWIGWORDSIZE64 is defined for both languages (int64_t is a C `long`, as on LP64); for C#,
 *    whose SWIG module maps `long` to a 32-bit int, `long` is re-mapped to 64 bits below.
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

/* Make stdint.i declare int64_t/uint64_t as `long` (LP64, like the C compiler), so wrappers of
 * `const uint64_t *` / `const int64_t *` parameters cast to the pointer type the header declares
 * instead of `unsigned long long *` (incompatible-pointer-types warnings). Go maps `long` to int64
 * under -intgosize 64... */
#define SWIGWORDSIZE64

%include <stdint.i>

#if defined(SWIGCSHARP)
/* ...and for C#, whose SWIG module maps C `long` to a 32-bit int, map `long` back to 64 bits. */
%apply long long { long };
%apply unsigned long long { unsigned long };
#endif
%include <cpointer.i>

#define RAI_API
#define RAI_DEPRECATED(msg)

/* ---------------------------------------------------------------- out-params
 * new_X() allocates a cell, X_value(p) reads it, delete_X(p) frees it. */
%pointer_functions(rai_context *, rai_context_pp);
%pointer_functions(rai_buffer *, rai_buffer_pp);
%pointer_functions(rai_ternary_weight *, rai_ternary_weight_pp);
%pointer_functions(rai_bitlinear *, rai_bitlinear_pp);
%pointer_functions(rai_q4_state *, rai_q4_state_pp);
%pointer_functions(rai_safetensors *, rai_safetensors_pp);
%pointer_functions(rai_safetensors_writer *, rai_safetensors_writer_pp);
%pointer_functions(rai_gguf_writer *, rai_gguf_writer_pp);
%pointer_functions(rai_gguf_reader *, rai_gguf_reader_pp);
%pointer_functions(rai_adapter_model *, rai_adapter_model_pp);
%pointer_functions(rai_gc *, rai_gc_pp);
%pointer_functions(rai_optimizer *, rai_optimizer_pp);
%pointer_functions(rai_hybrid *, rai_hybrid_pp);
%pointer_functions(rai_tvec *, rai_tvec_pp);
%pointer_functions(rai_svec *, rai_svec_pp);
%pointer_functions(rai_vsa_matrix *, rai_vsa_matrix_pp);
%pointer_functions(const rai_ternary_weight *, rai_const_ternary_weight_pp);
%pointer_functions(int32_t, int32_tp);
%pointer_functions(uint32_t, uint32_tp);
%pointer_functions(int64_t, int64_tp);
%pointer_functions(uint64_t, uint64_tp);
%pointer_functions(float, floatp);
%pointer_functions(double, doublep);
%pointer_functions(size_t, size_tp);
%pointer_functions(const char *, const_char_pp);
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

/* SWIG's default Go type for a pointer to int32_t / uint32_t is *int / *uint (64-bit under
 * -intgosize 64) while C reads 32-bit cells: give them their exact-width Go types, so the
 * idiomatic layer can pass &slice[0] of an []int32 / []uint32 (and the out-param cells
 * new_int32_tp / new_uint32_tp become *int32 / *uint32). */
%typemap(gotype) int32_t *, const int32_t * "*int32"
%typemap(gotype) uint32_t *, const uint32_t * "*uint32"
/* Arrays of vector handles (rai_vsa_bind_many, rai_vsa_bundle, ...): a Go []uintptr of C
 * handles, passed without a copy (it holds no Go pointers). */
%typemap(gotype) const rai_tvec *const * "[]uintptr"
%typemap(in) const rai_tvec *const * {
  $1 = ($1_ltype)$input.array;
}
/* Message, state and file byte ranges (compressor messages and state, optimizer and hybrid
 * state, safetensors parse/serialise/add_raw, GGUF raw reads): a Go []byte, no copy; rai reads or
 * writes it during the call only (open_memory and add_raw copy). A nil slice is (NULL, 0), the
 * size query. */
%typemap(gotype) (void *out, size_t capacity), (void *buffer, size_t capacity), (void *dst, size_t capacity),
                 (const void *message, size_t length), (const void *p_sum, size_t length),
                 (const void *data, size_t length), (const void *buffer, size_t size),
                 (const void *data, size_t size), (const void *data, size_t nbytes) "[]byte"
%typemap(in) (void *out, size_t capacity), (void *buffer, size_t capacity), (void *dst, size_t capacity),
             (const void *message, size_t length), (const void *p_sum, size_t length),
             (const void *data, size_t length), (const void *buffer, size_t size),
             (const void *data, size_t size), (const void *data, size_t nbytes) {
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

/* ------------------------------------------------------ const char * members
 * In C such a member is a borrowed pointer, valid during the call that reads it (rai copies what
 * it keeps; see each member's comment in rai.h). SWIG's default setter copies the string with
 * malloc and never frees it (warning 451). Here the wrapper keeps each copy in a small table
 * keyed by the member's address: setting the member again frees the previous copy, and the
 * struct's destructor (RAI_SIZED_STRUCT below) frees the copies it holds. Members that rai
 * itself fills (info structs) point into rai's memory and are never freed by the wrapper. */
%{
#include <stdatomic.h>
#include <string.h>

typedef struct rai_swig_kept_string { const char **member; char *copy; } rai_swig_kept_string;
static rai_swig_kept_string *rai_swig_kept;
static size_t rai_swig_kept_count, rai_swig_kept_capacity;
/* Go and C# may set members of different structs from several threads at once. */
static atomic_flag rai_swig_kept_lock = ATOMIC_FLAG_INIT;

static void rai_swig_kept_acquire(void) {
  while (atomic_flag_test_and_set_explicit(&rai_swig_kept_lock, memory_order_acquire)) {}
}
static void rai_swig_kept_release(void) {
  atomic_flag_clear_explicit(&rai_swig_kept_lock, memory_order_release);
}

/* *member = a copy of value (NULL stays NULL) that the wrapper owns; the member's previous copy,
 * if the wrapper made it, is freed. On allocation failure the member is left unchanged. */
static void rai_swig_keep_string(const char **member, const char *value) {
  char *copy = NULL;
  size_t i;
  if (value != NULL) {
    copy = (char *)malloc(strlen(value) + 1);
    if (copy == NULL) return;
    strcpy(copy, value);
  }
  rai_swig_kept_acquire();
  for (i = 0; i < rai_swig_kept_count && rai_swig_kept[i].member != member; ++i) {}
  if (i == rai_swig_kept_count && copy != NULL) {
    if (rai_swig_kept_count == rai_swig_kept_capacity) {
      size_t grown = rai_swig_kept_capacity ? 2 * rai_swig_kept_capacity : 16;
      rai_swig_kept_string *table =
          (rai_swig_kept_string *)realloc(rai_swig_kept, grown * sizeof *table);
      if (table == NULL) {
        rai_swig_kept_release();
        free(copy);
        return;
      }
      rai_swig_kept = table;
      rai_swig_kept_capacity = grown;
    }
    rai_swig_kept[rai_swig_kept_count].member = member;
    rai_swig_kept[rai_swig_kept_count].copy = NULL;
    ++rai_swig_kept_count;
  }
  if (i < rai_swig_kept_count) {
    free(rai_swig_kept[i].copy);
    if (copy != NULL) {
      rai_swig_kept[i].copy = copy;
    } else {
      rai_swig_kept[i] = rai_swig_kept[--rai_swig_kept_count];
    }
  }
  *member = copy;
  rai_swig_kept_release();
}

/* Frees the copies kept for members inside [base, base + size): the struct is going away. */
static void rai_swig_release_strings(const void *base, size_t size) {
  const char *begin = (const char *)base, *end = begin + size;
  size_t i = 0;
  rai_swig_kept_acquire();
  while (i < rai_swig_kept_count) {
    const char *at = (const char *)rai_swig_kept[i].member;
    if (at >= begin && at < end) {
      free(rai_swig_kept[i].copy);
      rai_swig_kept[i] = rai_swig_kept[--rai_swig_kept_count];
    } else {
      ++i;
    }
  }
  rai_swig_kept_release();
}
%}
%typemap(memberin, noblock=1) const char * {
  rai_swig_keep_string((const char **)&$1, (const char *)$input);
}

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
  ~TYPE() {
    rai_swig_release_strings($self, sizeof *$self);
    free($self);
  }
}
%enddef

RAI_SIZED_STRUCT(rai_adapter_params)
RAI_SIZED_STRUCT(rai_bitnet_act_params)
RAI_SIZED_STRUCT(rai_bitnet_weight_params)
RAI_SIZED_STRUCT(rai_bundle_params)
RAI_SIZED_STRUCT(rai_context_params)
RAI_SIZED_STRUCT(rai_device_info)
RAI_SIZED_STRUCT(rai_gc_params)
RAI_SIZED_STRUCT(rai_gc_stats)
RAI_SIZED_STRUCT(rai_gguf_file_info)
RAI_SIZED_STRUCT(rai_gguf_kv_info)
RAI_SIZED_STRUCT(rai_gguf_tensor_info)
RAI_SIZED_STRUCT(rai_hybrid_params)
RAI_SIZED_STRUCT(rai_hybrid_stats)
RAI_SIZED_STRUCT(rai_hybrid_step_info)
RAI_SIZED_STRUCT(rai_hybrid_step_result)
RAI_SIZED_STRUCT(rai_lora_linear_params)
RAI_SIZED_STRUCT(rai_optimizer_params)
RAI_SIZED_STRUCT(rai_q4_params)
RAI_SIZED_STRUCT(rai_q4_state_info)
RAI_SIZED_STRUCT(rai_q4_state_params)
RAI_SIZED_STRUCT(rai_random_params)
RAI_SIZED_STRUCT(rai_safetensors_tensor_info)
RAI_SIZED_STRUCT(rai_ternary_weight_info)

%include "../../include/rai.h"
