"""Balanced ternary scalars: trits, Tryte (3 trits, [-13, 13]), Word (6 trits, [-364, 364]) and
digit arrays of any length (docs/ternary.md, "Scalars").

    from rai.ternary import Tryte, Word
    t = Tryte(5)                # OutOfRangeError outside [-13, 13]
    t.trits                     # (-1, -1, 1): least significant first
    Tryte(13).add(Tryte(1))     # (Tryte(-13), 1): result + 27 * carry == 14
    Tryte(13) + Tryte(1)        # OutOfRangeError: use add() for the carry
    digits_from_int(5, 4)       # array([-1, -1, 1, 0], dtype=int8)

Every check is librai's: a bad trit is InvalidArgumentError, a value out of range
OutOfRangeError, both naming the argument.
"""

import functools
import operator

from ._arrays import numpy, pointer, trit_array
from ._c_out import invalid
from ._backend import ffi, lib
from ._errors import BufferTooSmallError, OutOfRangeError, Status, check

# -- trits


def _trit(value, what):
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer trit, got {type(value).__name__}") from None
    if not -128 <= value <= 127:
        raise invalid(f"{what} is {value}, a trit must be -1, 0 or 1")
    return value


def trit_from_int(value):
    """`value` as a trit; InvalidArgumentError unless it is -1, 0 or 1."""
    out = ffi.new("int8_t *")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"value must be an integer, got {type(value).__name__}") from None
    if not -2**31 <= value < 2**31:
        raise invalid(f"value is {value}, a trit must be -1, 0 or 1")
    check(lib.rai_trit_from_int(value, out))
    return int(out[0])


def trit_neg(a):
    out = ffi.new("int8_t *")
    check(lib.rai_trit_neg(_trit(a, "a"), out))
    return int(out[0])


def trit_mul(a, b):
    out = ffi.new("int8_t *")
    check(lib.rai_trit_mul(_trit(a, "a"), _trit(b, "b"), out))
    return int(out[0])


def trit_add(a, b):
    """(digit, carry) with a + b == digit + 3 * carry."""
    digit, carry = ffi.new("int8_t *"), ffi.new("int8_t *")
    check(lib.rai_trit_add(_trit(a, "a"), _trit(b, "b"), digit, carry))
    return int(digit[0]), int(carry[0])


def trit_to_bits(a):
    """(plus, minus) bit-plane form: +1 -> (1, 0), -1 -> (0, 1), 0 -> (0, 0)."""
    plus, minus = ffi.new("uint8_t *"), ffi.new("uint8_t *")
    check(lib.rai_trit_to_bits(_trit(a, "a"), plus, minus))
    return int(plus[0]), int(minus[0])


def trit_from_bits(plus, minus):
    """The trit of a bit-plane pair; (1, 1) is InvalidArgumentError."""
    out = ffi.new("int8_t *")
    for v, what in ((plus, "plus"), (minus, "minus")):
        if not 0 <= operator.index(v) <= 255:
            raise invalid(f"{what} is {v}, a plane bit must be 0 or 1")
    check(lib.rai_trit_from_bits(plus, minus, out))
    return int(out[0])


# -- Tryte and Word: one implementation, two sizes


@functools.total_ordering
class _Balanced:
    """A fixed-width balanced ternary number, immutable, held in trit-vsa's raw form."""

    __slots__ = ("_raw",)
    _TRITS = 0
    _MAX = 0
    _RAW = ""      # the C type of the raw form
    _PREFIX = ""   # rai_tryte3 / rai_word6

    def __init__(self, value=0):
        """From an int; OutOfRangeError (naming `value`) outside [-MAX, MAX]."""
        if isinstance(value, type(self)):
            self._raw = value._raw
            return
        try:
            value = operator.index(value)
        except TypeError:
            raise TypeError(f"value must be an integer, got {type(value).__name__}") from None
        if not -2**31 <= value < 2**31:  # cannot reach the C call; out of range all the same
            raise _out_of_range(f"value is {value}, a {type(self).__name__} holds "
                                f"[-{self._MAX}, {self._MAX}]")
        out = ffi.new(self._RAW + " *")
        check(self._fn("from_int")(value, out))
        self._raw = int(out[0])

    @classmethod
    def _fn(cls, name):
        return getattr(lib, f"{cls._PREFIX}_{name}")

    @classmethod
    def _wrap(cls, raw):
        obj = cls.__new__(cls)
        obj._raw = int(raw)
        return obj

    @classmethod
    def from_raw(cls, raw):
        """From the raw encoding (trit k at bits 2k..2k+1, codes 0 = -1, 1 = 0, 2 = +1); the raw
        value is validated by decoding it."""
        limit = 1 << (8 if cls._TRITS == 3 else 16)
        raw = operator.index(raw)
        if not 0 <= raw < limit:
            raise invalid(f"raw is {raw}, which does not fit the {cls._RAW} raw form")
        out = ffi.new("int32_t *")
        check(cls._fn("to_int")(raw, out))
        return cls._wrap(raw)

    @classmethod
    def from_trits(cls, trits):
        """From `_TRITS` trits, least significant first."""
        arr = trit_array(trits, "trits", ndim=1)
        if arr.size != cls._TRITS:
            raise invalid(f"trits has {arr.size} values, a {cls.__name__} has {cls._TRITS}")
        out = ffi.new(cls._RAW + " *")
        check(cls._fn("from_trits")(pointer(arr, "int8_t"), out))
        return cls._wrap(out[0])

    @property
    def raw(self):
        return self._raw

    @property
    def trits(self):
        """The trits, least significant first, as a tuple of ints."""
        out = ffi.new("int8_t[]", self._TRITS)
        check(self._fn("to_trits")(self._raw, out))
        return tuple(int(t) for t in out)

    def __getitem__(self, index):
        index = operator.index(index)
        if index < 0:
            index += self._TRITS
        if index < 0:
            raise IndexError(f"trit index out of range for a {type(self).__name__}")
        out = ffi.new("int8_t *")
        check(self._fn("get_trit")(self._raw, index, out))
        return int(out[0])

    def __len__(self):
        return self._TRITS

    def __int__(self):
        out = ffi.new("int32_t *")
        check(self._fn("to_int")(self._raw, out))
        return int(out[0])

    __index__ = __int__

    def _other(self, other):
        if isinstance(other, type(self)):
            return other
        if isinstance(other, int):
            return type(self)(other)
        return None

    def _operand(self, other):
        operand = self._other(other)
        if operand is None:
            raise TypeError(f"other must be a {type(self).__name__} or an int, got {type(other).__name__}")
        return operand

    def add(self, other):
        """(sum, carry) with int(sum) + (3**TRITS) * carry == self + other."""
        other = self._operand(other)
        total, carry = ffi.new(self._RAW + " *"), ffi.new("int8_t *")
        check(self._fn("add")(self._raw, other._raw, total, carry))
        return self._wrap(total[0]), int(carry[0])

    def mul(self, other):
        """(low, high) with int(low) + (3**TRITS) * int(high) == self * other."""
        other = self._operand(other)
        low, high = ffi.new(self._RAW + " *"), ffi.new(self._RAW + " *")
        check(self._fn("mul")(self._raw, other._raw, low, high))
        return self._wrap(low[0]), self._wrap(high[0])

    def __add__(self, other):
        if self._other(other) is None:
            return NotImplemented
        total, carry = self.add(other)
        if carry:
            raise _overflow(self, other, "+", self._MAX)
        return total

    __radd__ = __add__

    def __sub__(self, other):
        other = self._other(other)
        if other is None:
            return NotImplemented
        return self + (-other)

    def __mul__(self, other):
        if self._other(other) is None:
            return NotImplemented
        low, high = self.mul(other)
        if high._raw != self._wrap_zero():
            raise _overflow(self, other, "*", self._MAX)
        return low

    __rmul__ = __mul__

    @classmethod
    def _wrap_zero(cls):
        return lib.RAI_TRYTE3_ZERO if cls._TRITS == 3 else lib.RAI_WORD6_ZERO

    def __neg__(self):
        out = ffi.new(self._RAW + " *")
        check(self._fn("neg")(self._raw, out))
        return self._wrap(out[0])

    def __pos__(self):
        return self

    def __eq__(self, other):
        if isinstance(other, _Balanced):
            return int(self) == int(other)
        if isinstance(other, int):
            return int(self) == other
        return NotImplemented

    def __lt__(self, other):
        if isinstance(other, (_Balanced, int)):
            return int(self) < int(other)
        return NotImplemented

    def __hash__(self):
        return hash(int(self))

    def __repr__(self):
        return f"rai.ternary.{type(self).__name__}({int(self)})"

    def __str__(self):
        return "".join({-1: "-", 0: "0", 1: "+"}[t] for t in reversed(self.trits))


def _out_of_range(message):
    return OutOfRangeError(Status.OUT_OF_RANGE, message)


def _overflow(a, b, op, limit):
    return _out_of_range(f"{int(a)} {op} {int(b)} leaves [-{limit}, {limit}]; use "
                         f"{'add' if op == '+' else 'mul'}() for the carry")


class Tryte(_Balanced):
    """3 trits: t0 + 3 t1 + 9 t2 in [-13, 13] (trit-vsa Tryte3), raw form in a uint8."""

    __slots__ = ()
    _TRITS, _MAX, _RAW, _PREFIX = 3, 13, "uint8_t", "rai_tryte3"
    MIN, MAX = -13, 13


class Word(_Balanced):
    """6 trits in [-364, 364] (trit-vsa Word6), raw form in a uint16."""

    __slots__ = ()
    _TRITS, _MAX, _RAW, _PREFIX = 6, 364, "uint16_t", "rai_word6"
    MIN, MAX = -364, 364

    @classmethod
    def from_trytes(cls, low, high):
        """low + 27 * high."""
        out = ffi.new("uint16_t *")
        check(lib.rai_word6_from_trytes(Tryte(low)._raw, Tryte(high)._raw, out))
        return cls._wrap(out[0])

    def to_trytes(self):
        """(low, high) Trytes with int(low) + 27 * int(high) == int(self)."""
        low, high = ffi.new("uint8_t *"), ffi.new("uint8_t *")
        check(lib.rai_word6_to_trytes(self._raw, low, high))
        return Tryte._wrap(low[0]), Tryte._wrap(high[0])


for _cls in (Tryte, Word):
    _cls.__module__ = "rai.ternary"

# -- digit arrays (least significant digit first)


def _sized_digits(call, first_guess):
    """Runs a digits call that writes `out` with `capacity` and reports the digits needed,
    retrying once with the reported size (the two-call size query, hidden)."""
    np = numpy()
    capacity = max(int(first_guess), 1)
    count = ffi.new("size_t *")
    for _ in range(2):
        out = np.zeros(capacity, dtype=np.int8)
        try:
            check(call(pointer(out, "int8_t"), capacity, count))
        except BufferTooSmallError:
            capacity = int(count[0])
            continue
        return out[:int(count[0])].copy()
    raise AssertionError("rai: the digit count changed between two calls")  # pragma: no cover


def digits_from_int(value, min_digits=0):
    """Balanced ternary digits of an int64, least significant first, as int8, at least
    max(1, min_digits) digits (zero padded)."""
    value = operator.index(value)
    if not -2**63 <= value < 2**63:
        raise invalid(f"value is {value}, which does not fit int64")
    min_digits = operator.index(min_digits)
    if min_digits < 0:
        raise invalid(f"min_digits must be >= 0, got {min_digits}")
    return _sized_digits(lambda out, cap, n: lib.rai_ternary_digits_from_int(value, min_digits, out, cap, n),
                         max(41, min_digits))


def digits_to_int(digits):
    """The int64 value of a digit array; OutOfRangeError when it does not fit."""
    arr = trit_array(digits, "digits", ndim=1)
    out = ffi.new("int64_t *")
    check(lib.rai_ternary_digits_to_int(pointer(arr, "int8_t"), arr.size, out))
    return int(out[0])


def digits_add(a, b):
    """a + b as a digit array (max(len) digits, one more for a final carry)."""
    a, b = trit_array(a, "a", ndim=1), trit_array(b, "b", ndim=1)
    return _sized_digits(lambda out, cap, n: lib.rai_ternary_digits_add(
        pointer(a, "int8_t"), a.size, pointer(b, "int8_t"), b.size, out, cap, n), max(a.size, b.size) + 1)


def digits_mul(a, b):
    """a * b as a digit array, leading zeros trimmed (at least one digit)."""
    a, b = trit_array(a, "a", ndim=1), trit_array(b, "b", ndim=1)
    return _sized_digits(lambda out, cap, n: lib.rai_ternary_digits_mul(
        pointer(a, "int8_t"), a.size, pointer(b, "int8_t"), b.size, out, cap, n), a.size + b.size + 1)


def digits_neg(a):
    a = trit_array(a, "a", ndim=1)
    return _sized_digits(lambda out, cap, n: lib.rai_ternary_digits_neg(pointer(a, "int8_t"), a.size, out, cap, n),
                         a.size)


def digits_compare(a, b):
    """-1, 0 or 1 as value(a) <, ==, > value(b)."""
    a, b = trit_array(a, "a", ndim=1), trit_array(b, "b", ndim=1)
    out = ffi.new("int32_t *")
    check(lib.rai_ternary_digits_compare(pointer(a, "int8_t"), a.size, pointer(b, "int8_t"), b.size, out))
    return int(out[0])


__all__ = ["trit_from_int", "trit_neg", "trit_mul", "trit_add", "trit_to_bits", "trit_from_bits",
           "Tryte", "Word", "digits_from_int", "digits_to_int", "digits_add", "digits_mul",
           "digits_neg", "digits_compare"]
