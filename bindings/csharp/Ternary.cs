// Ternary.cs: balanced-ternary scalars (trits, Tryte3, Word6, digit arrays) over rai.h's
// "ternary and VSA" section (docs/ternary.md). Trits are sbyte -1, 0, +1; librai validates every
// value and its message names the argument, surfaced as RaiException.
using System;
using N = Rai.Native;

namespace Rai
{
    /// <summary>Single balanced trits (-1, 0, +1).</summary>
    public static unsafe class Trit
    {
        /// <summary>value in {-1, 0, 1} as a trit; anything else RaiException(InvalidArgument).</summary>
        public static sbyte FromInt(int value)
        {
            sbyte t;
            Library.Check(N.rai.rai_trit_from_int(value, P.I8(&t)));
            return t;
        }

        public static sbyte Neg(sbyte a)
        {
            sbyte t;
            Library.Check(N.rai.rai_trit_neg(a, P.I8(&t)));
            return t;
        }

        public static sbyte Mul(sbyte a, sbyte b)
        {
            sbyte t;
            Library.Check(N.rai.rai_trit_mul(a, b, P.I8(&t)));
            return t;
        }

        /// <summary>a + b = digit + 3 * carry; returns the digit.</summary>
        public static sbyte Add(sbyte a, sbyte b, out sbyte carry)
        {
            sbyte d, c;
            Library.Check(N.rai.rai_trit_add(a, b, P.I8(&d), P.I8(&c)));
            carry = c;
            return d;
        }

        /// <summary>Bit-plane form: +1 = (1, 0), -1 = (0, 1), 0 = (0, 0).</summary>
        public static void ToBits(sbyte a, out byte plus, out byte minus)
        {
            byte p, m;
            Library.Check(N.rai.rai_trit_to_bits(a, P.U8(&p), P.U8(&m)));
            plus = p;
            minus = m;
        }

        /// <summary>(1, 1) is RaiException(InvalidArgument).</summary>
        public static sbyte FromBits(byte plus, byte minus)
        {
            sbyte t;
            Library.Check(N.rai.rai_trit_from_bits(plus, minus, P.I8(&t)));
            return t;
        }
    }

    /// <summary>Three trits, value t0 + 3 t1 + 9 t2 in [-13, 13], in trit-vsa's raw byte form.</summary>
    public unsafe struct Tryte3 : IEquatable<Tryte3>
    {
        public const int Max = N.rai.RAI_TRYTE3_MAX;
        public static readonly Tryte3 Zero = new Tryte3((byte)N.rai.RAI_TRYTE3_ZERO);

        /// <summary>The raw encoding: trit k at bits 2k..2k+1, codes 0 = -1, 1 = 0, 2 = +1.</summary>
        public readonly byte Raw;

        private Tryte3(byte raw) { Raw = raw; }

        /// <summary>Out of [-13, 13]: RaiException(OutOfRange).</summary>
        public static Tryte3 FromInt(int value)
        {
            byte raw;
            Library.Check(N.rai.rai_tryte3_from_int(value, P.U8(&raw)));
            return new Tryte3(raw);
        }

        /// <summary>Checks a raw byte (bits above the last trit set: RaiException(InvalidArgument)).</summary>
        public static Tryte3 FromRaw(byte raw)
        {
            int v;
            Library.Check(N.rai.rai_tryte3_to_int(raw, P.I32(&v)));
            return new Tryte3(raw);
        }

        /// <summary>trits[0] is the least significant; exactly 3 trits.</summary>
        public static Tryte3 FromTrits(sbyte[] trits)
        {
            Ternary.CheckLength(trits, 3, "trits");
            byte raw;
            fixed (sbyte* t = trits)
                Library.Check(N.rai.rai_tryte3_from_trits(P.I8(t), P.U8(&raw)));
            return new Tryte3(raw);
        }

        public int Value
        {
            get
            {
                int v;
                Library.Check(N.rai.rai_tryte3_to_int(Raw, P.I32(&v)));
                return v;
            }
        }

        public sbyte[] Trits
        {
            get
            {
                var t = new sbyte[3];
                fixed (sbyte* p = t)
                    Library.Check(N.rai.rai_tryte3_to_trits(Raw, P.I8(p)));
                return t;
            }
        }

        /// <summary>Trit <paramref name="index"/> (0..2; else RaiException(OutOfRange)).</summary>
        public sbyte this[int index]
        {
            get
            {
                sbyte t;
                Library.Check(N.rai.rai_tryte3_get_trit(Raw, Ternary.Index(index), P.I8(&t)));
                return t;
            }
        }

        /// <summary>a + b = sum + 27 * carry; returns the sum.</summary>
        public static Tryte3 Add(Tryte3 a, Tryte3 b, out sbyte carry)
        {
            byte s;
            sbyte c;
            Library.Check(N.rai.rai_tryte3_add(a.Raw, b.Raw, P.U8(&s), P.I8(&c)));
            carry = c;
            return new Tryte3(s);
        }

        /// <summary>a * b = low + 27 * high; returns low.</summary>
        public static Tryte3 Mul(Tryte3 a, Tryte3 b, out Tryte3 high)
        {
            byte lo, hi;
            Library.Check(N.rai.rai_tryte3_mul(a.Raw, b.Raw, P.U8(&lo), P.U8(&hi)));
            high = new Tryte3(hi);
            return new Tryte3(lo);
        }

        public static Tryte3 operator -(Tryte3 a)
        {
            byte r;
            Library.Check(N.rai.rai_tryte3_neg(a.Raw, P.U8(&r)));
            return new Tryte3(r);
        }

        public bool Equals(Tryte3 o) { return Value == o.Value; }
        public override bool Equals(object obj) { return obj is Tryte3 && Equals((Tryte3)obj); }
        public override int GetHashCode() { return Value; }
        public override string ToString() { return Ternary.TritText(Trits) + " (" + Value + ")"; }
    }

    /// <summary>Six trits, value in [-364, 364], in trit-vsa's raw ushort form.</summary>
    public unsafe struct Word6 : IEquatable<Word6>
    {
        public const int Max = N.rai.RAI_WORD6_MAX;
        public static readonly Word6 Zero = new Word6((ushort)N.rai.RAI_WORD6_ZERO);

        public readonly ushort Raw;

        private Word6(ushort raw) { Raw = raw; }

        public static Word6 FromInt(int value)
        {
            ushort raw;
            Library.Check(N.rai.rai_word6_from_int(value, P.U16(&raw)));
            return new Word6(raw);
        }

        public static Word6 FromRaw(ushort raw)
        {
            int v;
            Library.Check(N.rai.rai_word6_to_int(raw, P.I32(&v)));
            return new Word6(raw);
        }

        public static Word6 FromTrits(sbyte[] trits)
        {
            Ternary.CheckLength(trits, 6, "trits");
            ushort raw;
            fixed (sbyte* t = trits)
                Library.Check(N.rai.rai_word6_from_trits(P.I8(t), P.U16(&raw)));
            return new Word6(raw);
        }

        /// <summary>word = low + 27 * high.</summary>
        public static Word6 FromTrytes(Tryte3 low, Tryte3 high)
        {
            ushort raw;
            Library.Check(N.rai.rai_word6_from_trytes(low.Raw, high.Raw, P.U16(&raw)));
            return new Word6(raw);
        }

        public void ToTrytes(out Tryte3 low, out Tryte3 high)
        {
            byte lo, hi;
            Library.Check(N.rai.rai_word6_to_trytes(Raw, P.U8(&lo), P.U8(&hi)));
            low = Tryte3.FromRaw(lo);
            high = Tryte3.FromRaw(hi);
        }

        public int Value
        {
            get
            {
                int v;
                Library.Check(N.rai.rai_word6_to_int(Raw, P.I32(&v)));
                return v;
            }
        }

        public sbyte[] Trits
        {
            get
            {
                var t = new sbyte[6];
                fixed (sbyte* p = t)
                    Library.Check(N.rai.rai_word6_to_trits(Raw, P.I8(p)));
                return t;
            }
        }

        public sbyte this[int index]
        {
            get
            {
                sbyte t;
                Library.Check(N.rai.rai_word6_get_trit(Raw, Ternary.Index(index), P.I8(&t)));
                return t;
            }
        }

        /// <summary>a + b = sum + 729 * carry; returns the sum.</summary>
        public static Word6 Add(Word6 a, Word6 b, out sbyte carry)
        {
            ushort s;
            sbyte c;
            Library.Check(N.rai.rai_word6_add(a.Raw, b.Raw, P.U16(&s), P.I8(&c)));
            carry = c;
            return new Word6(s);
        }

        /// <summary>a * b = low + 729 * high; returns low.</summary>
        public static Word6 Mul(Word6 a, Word6 b, out Word6 high)
        {
            ushort lo, hi;
            Library.Check(N.rai.rai_word6_mul(a.Raw, b.Raw, P.U16(&lo), P.U16(&hi)));
            high = new Word6(hi);
            return new Word6(lo);
        }

        public static Word6 operator -(Word6 a)
        {
            ushort r;
            Library.Check(N.rai.rai_word6_neg(a.Raw, P.U16(&r)));
            return new Word6(r);
        }

        public bool Equals(Word6 o) { return Value == o.Value; }
        public override bool Equals(object obj) { return obj is Word6 && Equals((Word6)obj); }
        public override int GetHashCode() { return Value; }
        public override string ToString() { return Ternary.TritText(Trits) + " (" + Value + ")"; }
    }

    /// <summary>Balanced-ternary numbers of any length as digit arrays, least significant first.</summary>
    public static unsafe class TernaryDigits
    {
        /// <summary>At least max(1, minDigits) digits, zero-padded; 0 gives [0].</summary>
        public static sbyte[] FromInt(long value, int minDigits = 0)
        {
            if (minDigits < 0) throw new ArgumentOutOfRangeException("minDigits");
            return SizedOutput.Fill<sbyte>((o, cap, n) =>
                N.rai.rai_ternary_digits_from_int(value, (ulong)minDigits, P.I8((void*)o), cap, n));
        }

        /// <summary>An empty array is 0; a value beyond int64 is RaiException(OutOfRange).</summary>
        public static long ToInt(sbyte[] digits)
        {
            if (digits == null) throw new ArgumentNullException("digits");
            long v;
            using (var pins = new Pins())
                Library.Check(N.rai.rai_ternary_digits_to_int(P.I8(pins.Ptr(digits)), (ulong)digits.Length, P.I64(&v)));
            return v;
        }

        public static sbyte[] Add(sbyte[] a, sbyte[] b) { return Binary(a, b, true); }

        /// <summary>Leading zeros trimmed, at least one digit.</summary>
        public static sbyte[] Mul(sbyte[] a, sbyte[] b) { return Binary(a, b, false); }

        public static sbyte[] Neg(sbyte[] a)
        {
            if (a == null) throw new ArgumentNullException("a");
            using (var pins = new Pins())
            {
                IntPtr pa = pins.Pin(a);
                return SizedOutput.Fill<sbyte>((o, cap, n) =>
                    N.rai.rai_ternary_digits_neg(P.I8((void*)pa), (ulong)a.Length, P.I8((void*)o), cap, n));
            }
        }

        /// <summary>-1, 0 or 1 as value(a) &lt;, =, &gt; value(b).</summary>
        public static int Compare(sbyte[] a, sbyte[] b)
        {
            if (a == null) throw new ArgumentNullException("a");
            if (b == null) throw new ArgumentNullException("b");
            int r;
            using (var pins = new Pins())
                Library.Check(N.rai.rai_ternary_digits_compare(P.I8(pins.Ptr(a)), (ulong)a.Length,
                                                               P.I8(pins.Ptr(b)), (ulong)b.Length, P.I32(&r)));
            return r;
        }

        private static sbyte[] Binary(sbyte[] a, sbyte[] b, bool add)
        {
            if (a == null) throw new ArgumentNullException("a");
            if (b == null) throw new ArgumentNullException("b");
            using (var pins = new Pins())
            {
                IntPtr pa = pins.Pin(a);
                IntPtr pb = pins.Pin(b);
                return SizedOutput.Fill<sbyte>((o, cap, n) => add
                    ? N.rai.rai_ternary_digits_add(P.I8((void*)pa), (ulong)a.Length, P.I8((void*)pb), (ulong)b.Length, P.I8((void*)o), cap, n)
                    : N.rai.rai_ternary_digits_mul(P.I8((void*)pa), (ulong)a.Length, P.I8((void*)pb), (ulong)b.Length, P.I8((void*)o), cap, n));
            }
        }
    }

    /// <summary>Shared argument checks of the ternary files.</summary>
    internal static class Ternary
    {
        internal static void CheckLength(Array a, int n, string argument)
        {
            if (a == null) throw new ArgumentNullException(argument);
            if (a.Length != n)
                throw new RaiException(Status.ShapeMismatch, argument + " has " + a.Length + " elements, expected " + n);
        }

        /// <summary>A negative index becomes one librai rejects as out of range (never wraps to a valid one).</summary>
        internal static ulong Index(long index) { return index < 0 ? ulong.MaxValue : (ulong)index; }

        internal static string TritText(sbyte[] trits)
        {
            var chars = new char[trits.Length];
            for (int i = 0; i < trits.Length; i++) chars[i] = trits[i] > 0 ? '+' : trits[i] < 0 ? '-' : '0';
            return new string(chars);
        }
    }
}
