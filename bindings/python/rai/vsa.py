"""Packed trit vectors and vector-symbolic architecture (VSA) operations (docs/ternary.md).

    from rai import vsa
    a = vsa.random(10_000, seed=1)                  # TritVector, trit-vsa's generator
    b = vsa.TritVector.from_array([1, 0, -1, ...])  # from int8 (or any integer) values
    c = vsa.bind(a, b)                              # MOD3 (default) or mode="mul"
    assert vsa.unbind(c, b) == a
    vsa.cosine(vsa.bundle([a, b, c]), a)

Vector arguments take TritVectors or int8 arrays (converted to a temporary TritVector). Results
are new TritVectors unless `out=` names one (which may be an input: in place).

ItemMemory is a matrix of packed vectors on a Context's device with similarity matrices and
top-k search returning numpy arrays (or rai Tensors on a CUDA context).
"""

import operator

from ._arrays import allocate, int_array, numpy, pointer, tensor_in, tensor_out, trit_array
from ._c_out import choice, index_arg, invalid, new_params
from ._backend import ffi, lib
from ._context import Context
from ._errors import BufferTooSmallError, check
from ._handle import Handle

BIND_MODES = {"mod3": lib.RAI_VSA_BIND_MOD3, "mul": lib.RAI_VSA_BIND_MUL}
TIE_BREAKS = {"zero": lib.RAI_VSA_TIE_ZERO, "random": lib.RAI_VSA_TIE_RANDOM}
GENERATORS = {"tritvsa": lib.RAI_VSA_RNG_TRITVSA_XS64, "counter": lib.RAI_VSA_RNG_COUNTER,
              "tritter": lib.RAI_VSA_RNG_TRITTER_CHACHA8}
DISTRIBUTIONS = {"dense": lib.RAI_VSA_DENSE, "bipolar": lib.RAI_VSA_BIPOLAR, "sparse": lib.RAI_VSA_SPARSE}
METRICS = {"cosine": lib.RAI_VSA_COSINE, "dot": lib.RAI_VSA_DOT,
           "hamming_distance": lib.RAI_VSA_HAMMING_DISTANCE,
           "hamming_similarity": lib.RAI_VSA_HAMMING_SIMILARITY, "equal_count": lib.RAI_VSA_EQUAL_COUNT}


def _u64(value, what):
    value = operator.index(value)
    if not 0 <= value < 2**64:
        raise invalid(f"{what} is {value}, it must fit uint64")
    return value


# ------------------------------------------------------------------ dense vectors


class TritVector(Handle):
    """A dense vector of `dim` trits, bit-sliced into plus and minus planes (rai_tvec)."""

    _KIND = "rai.vsa.TritVector"

    def __init__(self, dim=0):
        """All trits zero."""
        out = ffi.new("rai_tvec **")
        check(lib.rai_tvec_create(index_arg(dim, "dim"), out))
        self._own(out[0], lib.rai_tvec_destroy)

    @classmethod
    def _adopt(cls, raw):
        obj = cls.__new__(cls)
        obj._own(raw, lib.rai_tvec_destroy)
        return obj

    @classmethod
    def from_array(cls, values):
        """From int8 trits (any integer array or sequence; values outside {-1, 0, 1} raise
        InvalidArgumentError naming `values[i]`)."""
        arr = trit_array(values, "values", ndim=1)
        v = cls(arr.size)
        v.assign(arr)
        return v

    @classmethod
    def from_planes_u32(cls, plus, minus, dim):
        """From trit-vsa's serialised planes: ceil(dim / 32) u32 words each."""
        v = cls(dim)
        plus, minus = int_array(plus, "uint32", "plus", 1), int_array(minus, "uint32", "minus", 1)
        if plus.size != minus.size:
            raise invalid(f"plus has {plus.size} words, minus {minus.size}")
        check(lib.rai_tvec_import_planes_u32(v._handle(), pointer(plus, "uint32_t"), pointer(minus, "uint32_t"),
                                             plus.size))
        return v

    @classmethod
    def from_planes_u64(cls, plus, minus, dim):
        """From rai's own planes: ceil(dim / 64) u64 words each."""
        v = cls(dim)
        plus, minus = int_array(plus, "uint64", "plus", 1), int_array(minus, "uint64", "minus", 1)
        if plus.size != minus.size:
            raise invalid(f"plus has {plus.size} words, minus {minus.size}")
        check(lib.rai_tvec_import_planes_u64(v._handle(), pointer(plus, "uint64_t"), pointer(minus, "uint64_t"),
                                             plus.size))
        return v

    def assign(self, values):
        """Replaces every trit from `dim` int8 values (strict: on error nothing changes)."""
        arr = trit_array(values, "values", ndim=1)
        check(lib.rai_tvec_import_int8(self._handle(), pointer(arr, "int8_t"), arr.size))
        return self

    # -- export
    def to_array(self):
        """The trits as a new int8 numpy array."""
        np = numpy()
        out = np.empty(self.dim, dtype=np.int8)
        count = ffi.new("size_t *")
        check(lib.rai_tvec_export_int8(self._handle(), pointer(out, "int8_t"), out.size, count))
        return out

    def __array__(self, dtype=None, copy=None):
        arr = self.to_array()
        return arr if dtype is None else arr.astype(dtype)

    def _planes(self, bits, fn):
        np = numpy()
        words = (self.dim + bits - 1) // bits
        plus = np.zeros(words, dtype=f"uint{bits}")
        minus = np.zeros(words, dtype=f"uint{bits}")
        count = ffi.new("size_t *")
        ctype = f"uint{bits}_t"
        check(fn(self._handle(), pointer(plus, ctype), pointer(minus, ctype), words, count))
        return plus, minus

    def to_planes_u32(self):
        """(plus, minus) uint32 arrays of ceil(dim / 32) words (trit-vsa's serde form)."""
        return self._planes(32, lib.rai_tvec_export_planes_u32)

    def to_planes_u64(self):
        """(plus, minus) uint64 arrays of ceil(dim / 64) words."""
        return self._planes(64, lib.rai_tvec_export_planes_u64)

    # -- elements
    @property
    def dim(self):
        out = ffi.new("size_t *")
        check(lib.rai_tvec_dim(self._handle(), out))
        return int(out[0])

    def __len__(self):
        return self.dim

    def _index(self, index):
        index = operator.index(index)
        if index < 0:
            index += self.dim
            if index < 0:
                raise IndexError(f"index {index - self.dim} is out of range for dimension {self.dim}")
        return index

    def __getitem__(self, index):
        out = ffi.new("int8_t *")
        check(lib.rai_tvec_get(self._handle(), self._index(index), out))
        return int(out[0])

    def __setitem__(self, index, value):
        value = operator.index(value)
        if not -1 <= value <= 1:
            raise invalid(f"value is {value}, a trit must be -1, 0 or 1")
        check(lib.rai_tvec_set(self._handle(), self._index(index), value))

    def _count(self, fn, ctype="size_t"):
        out = ffi.new(ctype + " *")
        check(fn(self._handle(), out))
        return out[0]

    def count_nonzero(self):
        return int(self._count(lib.rai_tvec_count_nonzero))

    def count_positive(self):
        return int(self._count(lib.rai_tvec_count_positive))

    def count_negative(self):
        return int(self._count(lib.rai_tvec_count_negative))

    @property
    def sparsity(self):
        """1 - nonzero / dim (1.0 for dim 0)."""
        return float(self._count(lib.rai_tvec_sparsity, "double"))

    def sum(self):
        """#(+1) - #(-1)."""
        return int(self._count(lib.rai_tvec_sum, "int64_t"))

    def negate(self, out=None):
        out = _out_like(self, out)
        check(lib.rai_tvec_negate(self._handle(), out._handle()))
        return out

    __neg__ = negate

    def add_clamped(self, other, out=None):
        """Element-wise sign(self + other) (the bundle of two vectors)."""
        other = as_vector(other, "other")
        out = _out_like(self, out)
        check(lib.rai_tvec_add_clamped(self._handle(), other._handle(), out._handle()))
        return out

    def clone(self):
        out = ffi.new("rai_tvec **")
        check(lib.rai_tvec_clone(self._handle(), out))
        return TritVector._adopt(out[0])

    copy = clone

    def __eq__(self, other):
        if not isinstance(other, TritVector):
            return NotImplemented
        out = ffi.new("int32_t *")
        check(lib.rai_tvec_equal(self._handle(), other._handle(), out))
        return bool(out[0])

    __hash__ = None

    def __repr__(self):
        if self.closed:
            return "<rai.vsa.TritVector closed>"
        return f"<rai.vsa.TritVector dim={self.dim} nonzero={self.count_nonzero()}>"


def as_vector(value, what):
    """A TritVector argument: itself, or a temporary one from int8 values."""
    if isinstance(value, TritVector):
        return value
    if isinstance(value, SparseTritVector):
        raise TypeError(f"{what}: a SparseTritVector was given; use .to_dense()")
    arr = trit_array(value, what, ndim=1)
    v = TritVector(arr.size)
    check(lib.rai_tvec_import_int8(v._handle(), pointer(arr, "int8_t"), arr.size))
    return v


def _out_like(a, out, what="out"):
    if out is None:
        return TritVector(a.dim)
    if not isinstance(out, TritVector):
        raise TypeError(f"{what} must be a rai.vsa.TritVector, got {type(out).__name__}")
    return out


def _vector_list(vectors, what="vectors"):
    vs = [as_vector(v, f"{what}[{i}]") for i, v in enumerate(vectors)]
    array = ffi.new("rai_tvec *[]", max(len(vs), 1))
    for i, v in enumerate(vs):
        array[i] = v._handle()
    return vs, array


def _weights(weights, count):
    if weights is None:
        return None, ffi.NULL
    arr = int_array(weights, "int32", "weights", 1)
    if arr.size != count:
        raise invalid(f"weights has {arr.size} values for {count} vectors")
    return arr, pointer(arr, "int32_t")


# ------------------------------------------------------------------ sparse vectors


class SparseTritVector(Handle):
    """A sparse vector: sorted index lists of the +1 and -1 positions (rai_svec, COO)."""

    _KIND = "rai.vsa.SparseTritVector"

    def __init__(self, dim=0):
        out = ffi.new("rai_svec **")
        check(lib.rai_svec_create(index_arg(dim, "dim"), out))
        self._own(out[0], lib.rai_svec_destroy)

    @classmethod
    def from_indices(cls, dim, positive=(), negative=()):
        """Indices need not be sorted; an index >= dim is OutOfRangeError, a duplicate or an index
        in both lists InvalidArgumentError."""
        s = cls(dim)
        s.assign(positive, negative)
        return s

    @classmethod
    def from_dense(cls, vector):
        vector = as_vector(vector, "vector")
        s = cls(vector.dim)
        check(lib.rai_svec_from_tvec(vector._handle(), s._handle()))
        return s

    def assign(self, positive=(), negative=()):
        pos = int_array(positive, "uint64", "positive", 1)
        neg = int_array(negative, "uint64", "negative", 1)
        check(lib.rai_svec_import_indices(self._handle(), pointer(pos, "uint64_t"), pos.size,
                                          pointer(neg, "uint64_t"), neg.size))
        return self

    def indices(self):
        """(positive, negative): sorted uint64 arrays."""
        np = numpy()
        n_pos, n_neg = ffi.new("size_t *"), ffi.new("size_t *")
        try:  # the size query: empty capacities report both counts
            check(lib.rai_svec_export_indices(self._handle(), ffi.NULL, 0, ffi.NULL, 0, n_pos, n_neg))
        except BufferTooSmallError:
            pass
        pos = np.empty(int(n_pos[0]), dtype=np.uint64)
        neg = np.empty(int(n_neg[0]), dtype=np.uint64)
        check(lib.rai_svec_export_indices(self._handle(), pointer(pos, "uint64_t"), pos.size,
                                          pointer(neg, "uint64_t"), neg.size, n_pos, n_neg))
        return pos, neg

    def to_dense(self):
        v = TritVector(self.dim)
        check(lib.rai_svec_to_tvec(self._handle(), v._handle()))
        return v

    def to_array(self):
        return self.to_dense().to_array()

    @property
    def dim(self):
        out = ffi.new("size_t *")
        check(lib.rai_svec_dim(self._handle(), out))
        return int(out[0])

    def __len__(self):
        return self.dim

    def _index(self, index):
        index = operator.index(index)
        return index + self.dim if index < 0 else index

    def __getitem__(self, index):
        out = ffi.new("int8_t *")
        check(lib.rai_svec_get(self._handle(), self._index(index), out))
        return int(out[0])

    def __setitem__(self, index, value):
        value = operator.index(value)
        if not -1 <= value <= 1:
            raise invalid(f"value is {value}, a trit must be -1, 0 or 1")
        check(lib.rai_svec_set(self._handle(), self._index(index), value))

    @property
    def nnz(self):
        out = ffi.new("size_t *")
        check(lib.rai_svec_nnz(self._handle(), out))
        return int(out[0])

    @property
    def memory_bytes(self):
        """Bytes as trit-vsa counts them (struct plus 8 per index of capacity)."""
        out = ffi.new("size_t *")
        check(lib.rai_svec_memory_bytes(self._handle(), out))
        return int(out[0])

    def dot(self, other):
        """Dot product with a SparseTritVector or a TritVector (or int8 values)."""
        out = ffi.new("int64_t *")
        if isinstance(other, SparseTritVector):
            check(lib.rai_svec_dot(self._handle(), other._handle(), out))
        else:
            other = as_vector(other, "other")
            check(lib.rai_svec_dot_tvec(self._handle(), other._handle(), out))
        return int(out[0])

    def cosine(self, other):
        """dot / sqrt(nnz(a) nnz(b)), 0.0 if either is zero."""
        out = ffi.new("float *")
        if isinstance(other, SparseTritVector):
            check(lib.rai_svec_cosine(self._handle(), other._handle(), out))
        else:
            other = as_vector(other, "other")
            check(lib.rai_svec_cosine_tvec(self._handle(), other._handle(), out))
        return float(out[0])

    def __repr__(self):
        if self.closed:
            return "<rai.vsa.SparseTritVector closed>"
        return f"<rai.vsa.SparseTritVector dim={self.dim} nnz={self.nnz}>"


for _cls in (TritVector, SparseTritVector):
    _cls.__module__ = "rai.vsa"

# ------------------------------------------------------------------ VSA operations


def bind(a, b, mode="mod3", out=None):
    """MOD3 (default): (a - b) mod 3, anti-commutative; "mul": element-wise product (MAP)."""
    a, b = as_vector(a, "a"), as_vector(b, "b")
    out = _out_like(a, out)
    check(lib.rai_vsa_bind(a._handle(), b._handle(), choice(mode, BIND_MODES, "mode"), out._handle()))
    return out


def unbind(c, b, mode="mod3", out=None):
    """The inverse of bind: unbind(bind(a, b), b) == a."""
    c, b = as_vector(c, "c"), as_vector(b, "b")
    out = _out_like(c, out)
    check(lib.rai_vsa_unbind(c._handle(), b._handle(), choice(mode, BIND_MODES, "mode"), out._handle()))
    return out


def bind_many(vectors, mode="mod3", out=None):
    """Left fold bind(bind(v0, v1), v2)...; an empty list is InvalidArgumentError."""
    vs, array = _vector_list(vectors)
    out = _out_like(vs[0] if vs else TritVector(0), out)
    check(lib.rai_vsa_bind_many(array, len(vs), choice(mode, BIND_MODES, "mode"), out._handle()))
    return out


def _bundle_params(tie_break, seed):
    return new_params("rai_bundle_params", tie_break=choice(tie_break, TIE_BREAKS, "tie_break"),
                      seed=_u64(seed, "seed"))


def bundle(vectors, weights=None, tie_break="zero", seed=0, out=None):
    """Majority: sign(sum_k weights[k] * vectors[k]); zeros abstain; ties give 0 ("zero") or a
    seeded +-1 ("random", where some input is non-zero)."""
    vs, array = _vector_list(vectors)
    warr, wptr = _weights(weights, len(vs))
    out = _out_like(vs[0] if vs else TritVector(0), out)
    check(lib.rai_vsa_bundle(array, wptr, len(vs), _bundle_params(tie_break, seed), out._handle()))
    return out


def bundle_counts(vectors, weights=None):
    """The integer sums before thresholding: int32 [dim]."""
    np = numpy()
    vs, array = _vector_list(vectors)
    warr, wptr = _weights(weights, len(vs))
    dim = vs[0].dim if vs else 0
    counts = np.zeros(dim, dtype=np.int32)
    n = ffi.new("size_t *")
    check(lib.rai_vsa_bundle_counts(array, wptr, len(vs), pointer(counts, "int32_t"), counts.size, n))
    return counts


def accumulate(counts, vector, weight=1):
    """counts += weight * vector, in place on an int32 numpy array of the vector's dimension;
    OutOfRangeError (nothing added) if a sum would leave int32."""
    np = numpy()
    if not isinstance(counts, np.ndarray) or counts.dtype != np.int32 or counts.ndim != 1 or \
            not counts.flags.c_contiguous or not counts.flags.writeable:
        raise TypeError("counts must be a writable, contiguous 1-D int32 numpy array")
    vector = as_vector(vector, "vector")
    check(lib.rai_vsa_accumulate(vector._handle(), operator.index(weight), pointer(counts, "int32_t"),
                                 counts.size))
    return counts


def threshold(counts, threshold=0, out=None):
    """+1 where counts > threshold, -1 where counts < -threshold, else 0."""
    arr = int_array(counts, "int32", "counts", 1)
    out = TritVector(arr.size) if out is None else _out_like(None, out)
    check(lib.rai_vsa_threshold(pointer(arr, "int32_t"), arr.size, operator.index(threshold), out._handle()))
    return out


def permute(v, shift, out=None):
    """Cyclic roll: element i moves to (i + shift) mod dim."""
    v = as_vector(v, "v")
    out = _out_like(v, out)
    check(lib.rai_vsa_permute(v._handle(), operator.index(shift), out._handle()))
    return out


def _pair(fn, a, b, ctype):
    a, b = as_vector(a, "a"), as_vector(b, "b")
    out = ffi.new(ctype + " *")
    check(fn(a._handle(), b._handle(), out))
    return out[0]


def dot(a, b):
    return int(_pair(lib.rai_vsa_dot, a, b, "int64_t"))


def cosine(a, b):
    """dot / sqrt(nnz(a) nnz(b)) rounded once to f32; exactly 0.0 if either is zero."""
    return float(_pair(lib.rai_vsa_cosine, a, b, "float"))


def hamming_distance(a, b):
    return int(_pair(lib.rai_vsa_hamming_distance, a, b, "size_t"))


def hamming_similarity(a, b):
    """1 - distance / dim (1.0 for dim 0)."""
    return float(_pair(lib.rai_vsa_hamming_similarity, a, b, "float"))


def equal_count(a, b):
    return int(_pair(lib.rai_vsa_equal_count, a, b, "size_t"))


def random_params(seed=0, distribution="dense", generator="tritvsa", density=0.0):
    """A rai_random_params * (for ItemMemory.randomize and random)."""
    dist = choice(distribution, DISTRIBUTIONS, "distribution")
    if dist == lib.RAI_VSA_SPARSE and not 0.0 < float(density) <= 1.0:
        raise invalid(f"density is {density}, the sparse distribution needs a value in (0, 1]")
    return new_params("rai_random_params", generator=choice(generator, GENERATORS, "generator"),
                      distribution=dist, seed=_u64(seed, "seed"), density=float(density))


def random(dim, seed=0, distribution="dense", generator="tritvsa", density=0.0, out=None):
    """A random hypervector: "dense" (-1/0/+1 ~1/3 each), "bipolar" or "sparse" (non-zero with
    probability `density`). generator "tritvsa" is bit-exact with trit-vsa's CpuBackend::random,
    "counter" computes every index on its own, "tritter" is bit-exact with tritter-accel's
    VsaOps::random (ChaCha8Rng::seed_from_u64(seed), the full 64-bit seed; "dense" only).
    Same params, same vector on every backend."""
    params = random_params(seed, distribution, generator, density)
    out = TritVector(dim) if out is None else out
    check(lib.rai_vsa_random(params, out._handle()))
    return out


def cpu_backend():
    """The packed-trit kernels in use: "scalar", "avx2" or "avx512"."""
    return ffi.string(lib.rai_vsa_cpu_backend()).decode()


# ------------------------------------------------------------------ item memory


class ItemMemory(Handle):
    """`rows` packed vectors of one dimension on a Context's device (rai_vsa_matrix). The
    ItemMemory keeps its Context alive; close it before the Context."""

    _KIND = "rai.vsa.ItemMemory"

    def __init__(self, ctx, rows, dim):
        if not isinstance(ctx, Context):
            raise TypeError(f"ctx must be a rai.Context, got {type(ctx).__name__}")
        out = ffi.new("rai_vsa_matrix **")
        check(lib.rai_vsa_matrix_create(ctx._handle(), index_arg(rows, "rows"), index_arg(dim, "dim"), out))
        self._own(out[0], lib.rai_vsa_matrix_destroy, keep=(ctx,))
        self._ctx = ctx

    @classmethod
    def from_array(cls, ctx, values):
        """From an int8 [rows, dim] array (or DLPack / CUDA tensor on a CUDA context)."""
        t = tensor_in(values, "values", ctx, default_dtype="int8")
        if t.ndim != 2:
            raise invalid(f"values must be 2-D [rows, dim], got {t.ndim}-D")
        m = cls(ctx, t.shape[0], t.shape[1])
        m.write(t)
        return m

    @classmethod
    def from_vectors(cls, ctx, vectors):
        vs = [as_vector(v, f"vectors[{i}]") for i, v in enumerate(vectors)]
        m = cls(ctx, len(vs), vs[0].dim if vs else 0)
        for i, v in enumerate(vs):
            m.set_row(i, v)
        return m

    @property
    def context(self):
        return self._ctx

    @property
    def shape(self):
        rows, dim = ffi.new("size_t *"), ffi.new("size_t *")
        check(lib.rai_vsa_matrix_shape(self._handle(), rows, dim))
        return int(rows[0]), int(dim[0])

    @property
    def rows(self):
        return self.shape[0]

    @property
    def dim(self):
        return self.shape[1]

    def __len__(self):
        return self.rows

    def _ctx_handle(self):
        return self._ctx._handle()

    def set_row(self, row, vector):
        vector = as_vector(vector, "vector")
        check(lib.rai_vsa_matrix_set_row(self._ctx_handle(), self._handle(), index_arg(row, "row"),
                                         vector._handle()))

    def get_row(self, row):
        out = TritVector(self.dim)
        check(lib.rai_vsa_matrix_get_row(self._ctx_handle(), self._handle(), index_arg(row, "row"),
                                         out._handle()))
        return out

    def __getitem__(self, row):
        return self.get_row(row)

    def __setitem__(self, row, vector):
        self.set_row(row, vector)

    def write(self, values, row_offset=0):
        """Rows [row_offset, row_offset + n) from int8 [n, dim] (strict: one invalid value and
        nothing is written)."""
        t = tensor_in(values, "values", self._ctx, default_dtype="int8")
        check(lib.rai_vsa_matrix_write_int8(self._ctx_handle(), self._handle(), index_arg(row_offset, "row_offset"),
                                            t.cdata))

    def read(self, row_offset=0, rows=None, out=None):
        """Rows [row_offset, row_offset + rows) as int8 [rows, dim]: a numpy array on a CPU
        context, a rai Tensor on a CUDA one (or into `out`)."""
        row_offset = index_arg(row_offset, "row_offset")
        total, dim = self.shape
        if rows is None:
            rows = max(total - row_offset, 0)
        if out is None:
            out = allocate(self._ctx, "i8", (index_arg(rows, "rows"), dim))
        t = tensor_out(out, "out", self._ctx)
        check(lib.rai_vsa_matrix_read_int8(self._ctx_handle(), self._handle(), row_offset, t.cdata))
        return out

    def to_array(self):
        return self.read()

    def randomize(self, seed=0, distribution="dense", generator="tritvsa", density=0.0):
        """Row r becomes vsa.random(dim, seed + r, ...)."""
        check(lib.rai_vsa_matrix_random(self._ctx_handle(), self._handle(),
                                        random_params(seed, distribution, generator, density)))
        return self

    def _same_shape(self, out):
        if out is None:
            return ItemMemory(self._ctx, *self.shape)
        if not isinstance(out, ItemMemory):
            raise TypeError(f"out must be a rai.vsa.ItemMemory, got {type(out).__name__}")
        return out

    def bind(self, key, mode="mod3", out=None):
        """Row-wise bind with `key` (an ItemMemory of the same rows, or of one row)."""
        out = self._same_shape(out)
        check(lib.rai_vsa_matrix_bind(self._ctx_handle(), self._handle(), _matrix(key, "key")._handle(),
                                      choice(mode, BIND_MODES, "mode"), out._handle()))
        return out

    def unbind(self, key, mode="mod3", out=None):
        out = self._same_shape(out)
        check(lib.rai_vsa_matrix_unbind(self._ctx_handle(), self._handle(), _matrix(key, "key")._handle(),
                                        choice(mode, BIND_MODES, "mode"), out._handle()))
        return out

    def permute(self, shift, out=None):
        out = self._same_shape(out)
        check(lib.rai_vsa_matrix_permute(self._ctx_handle(), self._handle(), operator.index(shift),
                                         out._handle()))
        return out

    def bundle(self, weights=None, tie_break="zero", seed=0):
        """The bundle of all rows, as a TritVector."""
        warr, wptr = _weights(weights, self.rows)
        out = ItemMemory(self._ctx, 1, self.dim)
        with out:
            check(lib.rai_vsa_matrix_bundle(self._ctx_handle(), self._handle(), wptr,
                                            _bundle_params(tie_break, seed), out._handle()))
            return out.get_row(0)

    def similarity(self, items, metric="cosine", dtype=None, out=None):
        """[self.rows, items.rows] of metric(self row i, items row j): f32 for every metric, or
        int32 for the integer ones (dot, hamming_distance, equal_count) when dtype="int32"."""
        items = _matrix(items, "items")
        metric_id = choice(metric, METRICS, "metric")
        if dtype is None:
            dtype = "f32"
        if out is None:
            out = allocate(self._ctx, dtype, (self.rows, items.rows))
        t = tensor_out(out, "out", self._ctx)
        check(lib.rai_vsa_similarity_matrix(self._ctx_handle(), self._handle(), items._handle(), metric_id,
                                            t.cdata))
        return out

    def topk(self, items, k, metric="cosine"):
        """(indices int64 [rows, k], scores f32 [rows, k]): the k best items per query (self's
        rows), best first; ties by increasing index. Best is the largest value, except for
        hamming_distance (smallest)."""
        items = _matrix(items, "items")
        k = index_arg(k, "k")
        index = allocate(self._ctx, "i64", (self.rows, k))
        score = allocate(self._ctx, "f32", (self.rows, k))
        ti, ts = tensor_out(index, "out_index", self._ctx), tensor_out(score, "out_score", self._ctx)
        check(lib.rai_vsa_topk(self._ctx_handle(), self._handle(), items._handle(), k,
                               choice(metric, METRICS, "metric"), ti.cdata, ts.cdata))
        return index, score

    def __repr__(self):
        if self.closed:
            return "<rai.vsa.ItemMemory closed>"
        rows, dim = self.shape
        return f"<rai.vsa.ItemMemory rows={rows} dim={dim} on {self._ctx.device}>"


ItemMemory.__module__ = "rai.vsa"


def _matrix(value, what):
    if not isinstance(value, ItemMemory):
        raise TypeError(f"{what} must be a rai.vsa.ItemMemory, got {type(value).__name__}")
    return value


__all__ = ["TritVector", "SparseTritVector", "ItemMemory", "as_vector", "bind", "unbind", "bind_many",
           "bundle", "bundle_counts", "accumulate", "threshold", "permute", "dot", "cosine",
           "hamming_distance", "hamming_similarity", "equal_count", "random", "random_params",
           "cpu_backend", "BIND_MODES", "TIE_BREAKS", "GENERATORS", "DISTRIBUTIONS", "METRICS"]
