"""rai.ternary (balanced ternary scalars and digit arrays) and rai.vsa (packed vectors, VSA
algebra, item memory): the reference's vectors (/work/shared/reference/ternary-vsa-bitnet.md,
section 4), invariants on random vectors of awkward sizes, and every error path."""

import gc
import unittest

import rai
from rai import ternary, vsa
from rai.ternary import Tryte, Word

from rai_test_support import module_fixture, np, requires_numpy

AWKWARD = (1, 31, 33, 65537)


setUpModule, tearDownModule = module_fixture(globals(), cpu_context=True)


def trits(s):
    """'+0-' -> [1, 0, -1]."""
    return [{"+": 1, "0": 0, "-": -1}[c] for c in s]


def rng_trits(rng, n, values=(-1, 0, 1)):
    return rng.choice(np.array(values, dtype=np.int8), size=n)


def mod3_bind(a, b):
    """The reference's bind: (a - b) mod 3 mapped to balanced digits."""
    r = (a.astype(np.int16) - b) % 3
    return np.where(r == 2, -1, r).astype(np.int8)


class TritScalars(unittest.TestCase):
    def test_add_with_carry(self):
        # sum = digit + 3 * carry for every pair; the reference's examples.
        for a in (-1, 0, 1):
            for b in (-1, 0, 1):
                digit, carry = ternary.trit_add(a, b)
                self.assertEqual(digit + 3 * carry, a + b)
        self.assertEqual(ternary.trit_add(1, 1), (-1, 1))
        self.assertEqual(ternary.trit_add(-1, -1), (1, -1))
        self.assertEqual(ternary.trit_add(1, -1), (0, 0))
        self.assertEqual(ternary.trit_add(1, 0), (1, 0))

    def test_mul_neg_bits(self):
        for a in (-1, 0, 1):
            self.assertEqual(ternary.trit_neg(a), -a)
            self.assertEqual(ternary.trit_from_bits(*ternary.trit_to_bits(a)), a)
            for b in (-1, 0, 1):
                self.assertEqual(ternary.trit_mul(a, b), a * b)
        self.assertEqual(ternary.trit_to_bits(1), (1, 0))
        self.assertEqual(ternary.trit_to_bits(-1), (0, 1))
        self.assertEqual(ternary.trit_from_int(-1), -1)

    def test_errors_name_the_argument(self):
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            ternary.trit_from_int(2)
        self.assertIn("value", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            ternary.trit_mul(1, 2)
        self.assertIn("b", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError):
            ternary.trit_from_bits(1, 1)
        with self.assertRaises(TypeError):
            ternary.trit_neg(0.5)


class TryteAndWord(unittest.TestCase):
    def test_tryte_round_trip_and_range(self):
        for v in range(-13, 14):
            t = Tryte(v)
            self.assertEqual(int(t), v)
            self.assertEqual(Tryte.from_trits(t.trits), t)
            self.assertEqual(Tryte.from_raw(t.raw), t)
            self.assertEqual(int(-t), -v)
        for v in (14, -14, 2**40):
            with self.assertRaises(rai.OutOfRangeError) as cm:
                Tryte(v)
            self.assertIn("value", cm.exception.message)

    def test_tryte_vectors(self):
        self.assertEqual(Tryte(5).trits, (-1, -1, 1))
        self.assertEqual(int(Tryte.from_trits(trits("+0-"))), -8)
        self.assertEqual(Tryte(0).raw, rai.lib.RAI_TRYTE3_ZERO)
        self.assertEqual([Tryte(5)[i] for i in range(3)], [-1, -1, 1])
        self.assertEqual(Tryte(5)[-1], 1)
        total, carry = Tryte(13).add(Tryte(1))
        self.assertEqual(int(total) + 27 * carry, 14)
        self.assertEqual(carry, 1)
        low, high = Tryte(3).mul(4)
        self.assertEqual(int(low) + 27 * int(high), 12)
        low, high = Tryte(10).mul(Tryte(10))
        self.assertEqual(int(low) + 27 * int(high), 100)
        self.assertEqual(Tryte(3) + 4, Tryte(7))
        self.assertEqual(Tryte(3) - Tryte(5), -2)
        self.assertEqual(Tryte(-4) * Tryte(3), Tryte(-12))
        self.assertLess(Tryte(-2), Tryte(1))
        self.assertEqual(str(Tryte(5)), "+--")
        with self.assertRaises(rai.OutOfRangeError):
            Tryte(13) + Tryte(1)
        with self.assertRaises(rai.OutOfRangeError):
            Tryte(5) * Tryte(5)

    def test_tryte_raw_and_trit_errors(self):
        with self.assertRaises(rai.InvalidArgumentError):
            Tryte.from_raw(0xC0 | 21)  # bits above the last trit
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            Tryte.from_trits([1, 2, 0])
        self.assertIn("trits[1]", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError):
            Tryte.from_trits([1, 0])
        with self.assertRaises(rai.OutOfRangeError):
            Tryte(1)[3]

    def test_word(self):
        for v in range(-364, 365):
            w = Word(v)
            self.assertEqual(int(w), v)
            self.assertEqual(Word.from_trits(w.trits), w)
        for v in (365, -365):
            with self.assertRaises(rai.OutOfRangeError):
                Word(v)
        total, carry = Word(300).add(200)
        self.assertEqual(int(total) + 729 * carry, 500)
        low, high = Word(50).mul(50)
        self.assertEqual(int(low) + 729 * int(high), 2500)
        low, high = Word(100).to_trytes()
        self.assertEqual(int(low) + 27 * int(high), 100)
        self.assertEqual(Word.from_trytes(low, high), Word(100))
        self.assertEqual(Word(0).raw, rai.lib.RAI_WORD6_ZERO)
        self.assertEqual(len(Word(1).trits), 6)


@requires_numpy
class DigitArrays(unittest.TestCase):
    def test_reference_vectors(self):
        self.assertEqual(ternary.digits_from_int(5, 4).tolist(), trits("--+0"))
        self.assertEqual(ternary.digits_from_int(0).tolist(), [0])
        self.assertEqual(ternary.digits_to_int(trits("+-+")), 7)
        self.assertEqual(ternary.digits_to_int([]), 0)
        self.assertEqual(ternary.digits_to_int(ternary.digits_add(trits("+0+"), trits("-+0"))), 12)
        self.assertEqual(ternary.digits_to_int(ternary.digits_mul(trits("++"), trits("-+"))), 8)
        self.assertEqual(ternary.digits_mul([], trits("+")).tolist(), [0])

    def test_round_trip_and_arithmetic(self):
        for v in range(-1000, 1001):
            d = ternary.digits_from_int(v)
            self.assertEqual(d.dtype, np.int8)
            self.assertEqual(ternary.digits_to_int(d), v)
        for a, b in ((5, 3), (10, 20), (-5, 5), (100, -50), (0, 0), (-100, -100)):
            s = ternary.digits_add(ternary.digits_from_int(a), ternary.digits_from_int(b))
            self.assertEqual(ternary.digits_to_int(s), a + b)
        for a, b in ((4, 2), (3, 3), (5, -2), (-3, -4), (0, 100), (1, 50)):
            p = ternary.digits_mul(ternary.digits_from_int(a), ternary.digits_from_int(b))
            self.assertEqual(ternary.digits_to_int(p), a * b)
            self.assertTrue(p.size == 1 or p[-1] != 0)  # leading zeros trimmed
        for v in (7, -7, 2**62, -(2**63) + 1):
            self.assertEqual(ternary.digits_to_int(ternary.digits_neg(ternary.digits_from_int(v))), -v)
        self.assertEqual(ternary.digits_compare(ternary.digits_from_int(3), ternary.digits_from_int(-40)), 1)
        self.assertEqual(ternary.digits_compare(trits("0+"), trits("+-+")), -1)  # 3 < 7
        self.assertEqual(ternary.digits_compare(trits("+"), trits("+00")), 0)
        big = 2**63 - 1
        self.assertEqual(ternary.digits_to_int(ternary.digits_from_int(big)), big)
        self.assertEqual(ternary.digits_from_int(1, 50).size, 50)

    def test_errors(self):
        with self.assertRaises(rai.OutOfRangeError) as cm:
            ternary.digits_to_int(np.ones(45, np.int8))
        self.assertIn("digits", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            ternary.digits_add([1, 0], [0, 2])
        self.assertIn("b[1]", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            ternary.digits_to_int(np.array([1, 300], np.int32))
        self.assertIn("digits[1]", cm.exception.message)
        with self.assertRaises(rai.DTypeMismatchError) as cm:
            ternary.digits_neg(np.array([1.0, 0.0]))
        self.assertIn("a", cm.exception.message)
        with self.assertRaises(rai.ShapeMismatchError):
            ternary.digits_neg(np.zeros((2, 2), np.int8))
        with self.assertRaises(rai.InvalidArgumentError):
            ternary.digits_from_int(2**63)


@requires_numpy
class TritVectors(unittest.TestCase):
    def test_new_vector_is_zero_with_its_plane_words(self):
        with vsa.TritVector(100) as v:
            self.assertEqual(len(v), 100)
            plus, minus = v.to_planes_u32()
            self.assertEqual((plus.size, minus.size), (4, 4))
            self.assertEqual(v.to_planes_u64()[0].size, 2)
            self.assertEqual(v.count_nonzero(), 0)
            self.assertEqual(v.sparsity, 1.0)
        self.assertTrue(v.closed)
        with self.assertRaises(ValueError):
            v.dim

    def test_dot_sum_sparsity_add_clamped(self):
        a, b = vsa.TritVector.from_array([1, -1, 0, 1]), vsa.TritVector.from_array([1, 1, -1, 0])
        self.assertEqual(vsa.dot(a, b), 0)
        b[1] = -1
        self.assertEqual(vsa.dot(a, b), 2)
        c = vsa.TritVector.from_array([1, 1, -1, -1])
        self.assertEqual(vsa.dot(c, c), 4)
        self.assertEqual(vsa.dot(c, -c), -4)
        self.assertEqual(vsa.dot(c, [1, -1, 1, -1]), 0)
        s = vsa.TritVector.from_array([1, -1, 0, 1, -1]).add_clamped([1, 1, -1, 0, -1])
        self.assertEqual(s.to_array().tolist(), [1, 0, -1, 1, -1])
        self.assertEqual(vsa.TritVector.from_array([1, 1, -1]).sum(), 1)
        v = vsa.TritVector(100)
        for i in range(5):
            v[i * 7] = 1 if i % 2 else -1
        self.assertAlmostEqual(v.sparsity, 0.95)
        self.assertEqual((v.count_positive(), v.count_negative(), v[-100], v[7]), (2, 3, -1, 1))

    def test_hamming_and_cosine(self):
        h = vsa.hamming_distance
        self.assertEqual(h([1, 0, -1, 1], [1, -1, -1, 0]), 2)
        self.assertEqual(h([1, 0, -1], [-1, 1, 0]), 3)
        self.assertEqual(h([1, 0, -1], [1, 0, 0]), 1)
        a, b = np.zeros(10, np.int8), np.zeros(10, np.int8)
        a[:3], b[:3] = trits("+-0"), trits("--+")
        self.assertEqual(h(a, b), 2)
        rng = np.random.default_rng(1)
        for n in (33, 63, 64, 65):  # the padding of the last word must not count
            x, y = rng_trits(rng, n), rng_trits(rng, n)
            self.assertEqual(h(x, y), int((x != y).sum()))
            self.assertEqual(vsa.equal_count(x, y), int((x == y).sum()))
            self.assertAlmostEqual(vsa.hamming_similarity(x, y), 1 - (x != y).sum() / n, places=6)
        same = np.array([1] * 32 + [-1] * 16 + [0] * 16, np.int8)
        self.assertEqual(vsa.cosine(same, same), 1.0)
        self.assertEqual(vsa.cosine(same, -same), -1.0)
        disjoint = np.roll(np.array([1] * 16 + [0] * 48, np.int8), 48)
        self.assertEqual(vsa.cosine(np.array([1] * 16 + [0] * 48, np.int8), disjoint), 0.0)
        self.assertEqual(vsa.cosine(np.zeros(64, np.int8), same), 0.0)
        self.assertEqual(vsa.hamming_similarity(vsa.TritVector(0), vsa.TritVector(0)), 1.0)

    def test_int8_and_plane_round_trips_at_awkward_sizes(self):
        rng = np.random.default_rng(2)
        for n in AWKWARD:
            x = rng_trits(rng, n)
            v = vsa.TritVector.from_array(x)
            np.testing.assert_array_equal(v.to_array(), x)
            np.testing.assert_array_equal(np.asarray(v), x)
            p32, m32 = v.to_planes_u32()
            self.assertEqual(p32.size, (n + 31) // 32)
            bits = np.unpackbits(p32.view(np.uint8), bitorder="little")[:n]
            np.testing.assert_array_equal(bits, (x == 1).astype(np.uint8))
            self.assertEqual(vsa.TritVector.from_planes_u32(p32, m32, n), v)
            p64, m64 = v.to_planes_u64()
            self.assertEqual(vsa.TritVector.from_planes_u64(p64, m64, n), v)
            # u64 planes are the u32 planes padded to an even word count (little-endian hosts).
            padded = np.zeros(2 * p64.size, np.uint32)
            padded[:p32.size] = p32
            self.assertEqual(padded.tobytes(), p64.tobytes())
            c = v.clone()
            c[0] = -c[0] if c[0] else 1
            self.assertNotEqual(c, v)
            self.assertEqual(v.sum(), int(x.sum()))

    def test_errors(self):
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            vsa.TritVector.from_array([0, 1, 2])
        self.assertIn("values[2]", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError):
            vsa.TritVector.from_array(np.array([0, -5], np.int8))  # librai's own check
        with self.assertRaises(rai.DTypeMismatchError):
            vsa.TritVector.from_array(np.array([0.0, 1.0]))
        with self.assertRaises(rai.ShapeMismatchError):
            vsa.TritVector.from_array(np.zeros((2, 3), np.int8))
        v = vsa.TritVector(10)
        with self.assertRaises(rai.OutOfRangeError) as cm:
            v[10]
        self.assertIn("index", cm.exception.message)
        with self.assertRaises(IndexError):
            v[-11]
        with self.assertRaises(rai.InvalidArgumentError):
            v[0] = 2
        with self.assertRaises(rai.ShapeMismatchError):
            vsa.dot(v, vsa.TritVector(11))
        with self.assertRaises(rai.ShapeMismatchError):
            vsa.TritVector.from_planes_u32([0, 0], [0, 0], 70)  # 70 trits take 3 words
        with self.assertRaises(rai.InvalidArgumentError):
            vsa.TritVector.from_planes_u32([1, 0, 0], [1, 0, 0], 70)  # overlapping planes
        with self.assertRaises(rai.InvalidArgumentError):
            vsa.TritVector.from_planes_u32([0, 0, 1 << 10], [0, 0, 0], 70)  # padding bit
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            vsa.TritVector.from_planes_u32([-1, 0, 0], [0, 0, 0], 70)
        self.assertIn("plus[0]", cm.exception.message)
        with self.assertRaises(rai.ShapeMismatchError) as cm:
            v.assign(np.zeros(11, np.int8))
        self.assertIn("values", cm.exception.message)
        v.close()
        v.close()  # idempotent

    def test_gc_frees_without_close(self):
        import weakref
        v = vsa.TritVector(1000)
        ref = weakref.ref(v)
        del v
        gc.collect()
        self.assertIsNone(ref())


@requires_numpy
class SparseVectors(unittest.TestCase):
    def test_round_trip_and_products(self):
        s = vsa.SparseTritVector.from_indices(10, positive=[5, 1], negative=[3])
        pos, neg = s.indices()
        self.assertEqual((pos.tolist(), neg.tolist()), ([1, 5], [3]))
        self.assertEqual((s.nnz, s[1], s[3], s[0], s[-5]), (3, 1, -1, 0, 1))
        d = s.to_dense()
        self.assertEqual(d.to_array().tolist(), [0, 1, 0, -1, 0, 1, 0, 0, 0, 0])
        self.assertEqual(vsa.SparseTritVector.from_dense(d).indices()[1].tolist(), [3])
        t = vsa.SparseTritVector.from_indices(10, positive=[1], negative=[5])
        self.assertEqual(s.dot(t), 0)
        t[3] = -1
        self.assertEqual(s.dot(t), 1)
        t[5] = 1
        self.assertEqual(s.dot(t), 3)
        self.assertEqual(s.dot(d), 3)
        self.assertAlmostEqual(s.cosine(t), 1.0)
        a = vsa.SparseTritVector.from_indices(1000, positive=[1, 2])
        self.assertEqual(a.cosine(a), 1.0)
        self.assertEqual(a.cosine(vsa.SparseTritVector(1000)), 0.0)
        self.assertGreater(a.memory_bytes, 0)
        rng = np.random.default_rng(3)
        for n in AWKWARD:
            x = rng.choice(np.array([-1, 0, 0, 0, 0, 1], np.int8), size=n)
            y = rng_trits(rng, n)
            sx = vsa.SparseTritVector.from_dense(x)
            np.testing.assert_array_equal(sx.to_array(), x)
            self.assertEqual(sx.dot(y), int(x.astype(np.int64) @ y))

    def test_errors(self):
        with self.assertRaises(rai.InvalidArgumentError):
            vsa.SparseTritVector.from_indices(10, positive=[1], negative=[1])
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            vsa.SparseTritVector.from_indices(10, negative=[3, 3])
        self.assertIn("negative", cm.exception.message)
        with self.assertRaises(rai.OutOfRangeError):
            vsa.SparseTritVector.from_indices(10, positive=[10])
        with self.assertRaises(rai.ShapeMismatchError):
            vsa.SparseTritVector(5).dot(vsa.SparseTritVector(6))
        with self.assertRaises(TypeError):
            vsa.dot(vsa.SparseTritVector(5), vsa.TritVector(5))


@requires_numpy
class VsaAlgebra(unittest.TestCase):
    def test_bind_and_unbind_tables(self):
        bind_table = {(-1, -1): 0, (-1, 0): -1, (-1, 1): 1, (0, -1): 1, (0, 0): 0, (0, 1): -1,
                      (1, -1): -1, (1, 0): 1, (1, 1): 0}
        unbind_table = {(-1, -1): 1, (-1, 0): -1, (-1, 1): 0, (0, -1): -1, (0, 0): 0, (0, 1): 1,
                        (1, -1): 0, (1, 0): 1, (1, 1): -1}
        pairs = sorted(bind_table)
        a = [p[0] for p in pairs]
        b = [p[1] for p in pairs]
        self.assertEqual(vsa.bind(a, b).to_array().tolist(), [bind_table[p] for p in pairs])
        self.assertEqual(vsa.unbind(a, b).to_array().tolist(), [unbind_table[p] for p in pairs])
        self.assertEqual(vsa.bind(a, b, mode="mul").to_array().tolist(), [x * y for x, y in pairs])

    def test_invariants_at_awkward_sizes(self):
        rng = np.random.default_rng(4)
        for n in AWKWARD:
            x, y, z = rng_trits(rng, n), rng_trits(rng, n), rng_trits(rng, n)
            a, b, c = (vsa.TritVector.from_array(v) for v in (x, y, z))
            ab = vsa.bind(a, b)
            np.testing.assert_array_equal(ab.to_array(), mod3_bind(x, y))
            self.assertEqual(vsa.unbind(ab, b), a)
            self.assertEqual(vsa.bind(a, vsa.TritVector(n)), a)
            self.assertEqual(vsa.bind(a, a).count_nonzero(), 0)
            self.assertEqual(vsa.bind(b, a), -ab)
            self.assertEqual(vsa.unbind(a, b), vsa.unbind(b, a))
            self.assertEqual(vsa.bind_many([a, b, c]), vsa.bind(ab, c))
            p = vsa.permute(a, 5)
            np.testing.assert_array_equal(p.to_array(), np.roll(x, 5))
            self.assertEqual(vsa.permute(p, -5), a)
            self.assertEqual(vsa.permute(a, n), a)
            key = vsa.random(n, seed=n, distribution="bipolar")
            self.assertEqual(key.count_nonzero(), n)
            self.assertEqual(vsa.bind(vsa.bind(a, key, mode="mul"), key, mode="mul"), a)
            # in place: out may be an input
            vsa.bind(a, b, out=a)
            self.assertEqual(a, ab)

    def test_bundle(self):
        cols = {"++-": 1, "+-0": 0, "---": -1, "0+-": 0, "0-0": -1}
        vectors = [[trits(c)[k] for c in cols] for k in range(3)]
        self.assertEqual(vsa.bundle(vectors).to_array().tolist(), list(cols.values()))
        self.assertEqual(vsa.bundle([[1], [-1], [1], [-1]]).to_array().tolist(), [0])
        two = vsa.bundle([trits("++-0"), trits("+--0")]).to_array().tolist()
        self.assertEqual(two, [1, 0, -1, 0])
        self.assertEqual(vsa.bundle([[1, 1], [0, -1], [0, -1]]).to_array().tolist(), [1, -1])
        # weights, counts and threshold agree with numpy
        rng = np.random.default_rng(5)
        xs = [rng_trits(rng, 65537) for _ in range(5)]
        w = [3, -1, 2, 1, 1]
        counts = vsa.bundle_counts(xs, weights=w)
        expect = sum(wi * x.astype(np.int32) for wi, x in zip(w, xs))
        np.testing.assert_array_equal(counts, expect)
        np.testing.assert_array_equal(vsa.bundle(xs, weights=w).to_array(), np.sign(expect))
        np.testing.assert_array_equal(vsa.threshold(counts, 2).to_array(),
                                      np.where(expect > 2, 1, np.where(expect < -2, -1, 0)))
        acc = np.zeros(65537, np.int32)
        for wi, x in zip(w, xs):
            vsa.accumulate(acc, x, wi)
        np.testing.assert_array_equal(acc, expect)
        # random tie-break: seeded, only at ties where some input is non-zero
        ties = [trits("+-0+"), trits("-+0-")]
        r1 = vsa.bundle(ties, tie_break="random", seed=9).to_array()
        self.assertEqual(r1[2], 0)
        self.assertTrue(all(abs(int(t)) == 1 for t in r1[[0, 1, 3]]))
        np.testing.assert_array_equal(vsa.bundle(ties, tie_break="random", seed=9).to_array(), r1)

    def test_bundle_errors(self):
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            vsa.bundle([])
        self.assertIn("count", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError):
            vsa.bind_many([])
        with self.assertRaises(rai.InvalidArgumentError):
            vsa.bundle([[1], [1]], weights=[1])
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            vsa.bundle([[1]], tie_break="coin")
        self.assertIn("tie_break", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            vsa.bind([1], [1], mode="xor")
        self.assertIn("mode", cm.exception.message)
        with self.assertRaises(rai.OutOfRangeError):
            vsa.accumulate(np.array([2**31 - 1], np.int32), [1], 1)
        with self.assertRaises(TypeError):
            vsa.accumulate(np.zeros(1, np.int64), [1], 1)
        with self.assertRaises(rai.InvalidArgumentError):
            vsa.threshold([1, 2], -1)
        with self.assertRaises(rai.ShapeMismatchError):
            vsa.bundle([[1, 0], [1]])

    def test_random_vectors(self):
        def text(v, n=32):
            return "".join({-1: "-", 0: "0", 1: "+"}[int(t)] for t in v.to_array()[:n])
        self.assertEqual(text(vsa.random(1000, seed=42)), "0+-++0+-0-0---+00++0-+0++-+-+-+0")
        self.assertEqual(text(vsa.random(1000, seed=12345)), "-00+0+0--0--+00++0-0+++0+++0+0--")
        x = vsa.random(1000, seed=42).to_array()
        self.assertEqual(((x == -1).sum(), (x == 0).sum(), (x == 1).sum()), (335, 333, 332))
        self.assertEqual(vsa.random(5, seed=0)[0], -1)
        self.assertEqual(vsa.random(100, seed=7), vsa.random(100, seed=7))
        self.assertNotEqual(vsa.random(100, seed=7), vsa.random(100, seed=8))
        y = vsa.random(100, seed=42).to_array()
        self.assertTrue(all((y == t).sum() > 10 for t in (-1, 0, 1)))
        c = vsa.random(65537, seed=3, generator="counter")
        self.assertEqual(c, vsa.random(65537, seed=3, generator="counter"))
        self.assertNotEqual(c, vsa.random(65537, seed=3))
        # tritter-accel's ChaCha8 stream (golden: tests/ternary/golden/tritter_chacha/golden.txt).
        self.assertEqual(text(vsa.random(17, seed=0, generator="tritter"), 17), "0++00+0--+000+++0")
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            vsa.random(10, generator="tritter", distribution="bipolar")
        self.assertIn("params->distribution", cm.exception.message)
        sparse = vsa.random(100000, seed=1, distribution="sparse", density=0.1)
        self.assertAlmostEqual(1 - sparse.sparsity, 0.1, delta=0.01)
        with self.assertRaises(rai.InvalidArgumentError):
            vsa.random(10, distribution="sparse")
        with self.assertRaises(rai.InvalidArgumentError):
            vsa.random(10, seed=-1)
        self.assertIn(vsa.cpu_backend(), ("scalar", "avx2", "avx512"))

    def test_statistics(self):
        a, b = vsa.random(10000, seed=1), vsa.random(10000, seed=2)
        self.assertLess(abs(vsa.cosine(a, b)), 0.05)
        self.assertAlmostEqual(vsa.cosine(vsa.bundle([a, b]), a), 0.66, delta=0.03)
        self.assertLess(abs(vsa.cosine(vsa.bind(a, b), a)), 0.05)


@requires_numpy
class ItemMemoryTests(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(6)
        self.items = rng_trits(rng, (7, 65)).reshape(7, 65)
        self.queries = rng_trits(rng, (3, 65)).reshape(3, 65)
        self.m = vsa.ItemMemory.from_array(CTX, self.items)
        self.q = vsa.ItemMemory.from_array(CTX, self.queries)

    def tearDown(self):
        self.m.close()
        self.q.close()

    def test_rows(self):
        self.assertEqual(self.m.shape, (7, 65))
        np.testing.assert_array_equal(self.m.read(), self.items)
        np.testing.assert_array_equal(self.m.read(2, 3), self.items[2:5])
        np.testing.assert_array_equal(self.m[4].to_array(), self.items[4])
        self.m[0] = self.items[1]
        np.testing.assert_array_equal(self.m.read(0, 1)[0], self.items[1])
        self.m.write(self.items[5:7], row_offset=5)
        with self.assertRaises(rai.InvalidArgumentError):
            self.m.write(np.full((1, 65), 2, np.int8))
        np.testing.assert_array_equal(self.m.read(0, 1)[0], self.items[1])  # strict: unchanged
        with self.assertRaises(rai.OutOfRangeError):
            self.m.get_row(7)
        with self.assertRaises(rai.ShapeMismatchError):
            self.m.set_row(0, vsa.TritVector(64))
        m = vsa.ItemMemory(CTX, 4, 33).randomize(seed=10)
        for r in range(4):
            self.assertEqual(m.get_row(r), vsa.random(33, seed=10 + r))
        m.randomize(seed=2**32 - 2, generator="tritter")  # row r: seed + r, all 64 bits
        for r in range(4):
            self.assertEqual(m.get_row(r), vsa.random(33, seed=2**32 - 2 + r, generator="tritter"))
        m.close()

    def test_similarity_and_topk(self):
        x = self.queries.astype(np.int64)
        y = self.items.astype(np.int64)
        dots = x @ y.T
        np.testing.assert_array_equal(self.q.similarity(self.m, "dot", dtype="int32"), dots)
        np.testing.assert_array_equal(self.q.similarity(self.m, "dot"), dots.astype(np.float32))
        nnz = np.sqrt(np.outer((x != 0).sum(1), (y != 0).sum(1)))
        cos = self.q.similarity(self.m, "cosine")
        self.assertEqual(cos.dtype, np.float32)
        np.testing.assert_allclose(cos, dots / nnz, rtol=1e-6)
        ham = (x[:, None, :] != y[None, :, :]).sum(-1)
        np.testing.assert_array_equal(self.q.similarity(self.m, "hamming_distance", dtype="int32"), ham)
        np.testing.assert_array_equal(self.q.similarity(self.m, "equal_count", dtype="int32"), 65 - ham)
        for metric, scores, best_small in (("cosine", cos, False), ("hamming_distance", ham, True)):
            index, score = self.q.topk(self.m, 3, metric)
            self.assertEqual((index.dtype, score.dtype, index.shape), (np.int64, np.float32, (3, 3)))
            for i in range(3):
                key = scores[i] if best_small else -scores[i]
                np.testing.assert_array_equal(index[i], np.argsort(key, kind="stable")[:3])
                np.testing.assert_allclose(score[i], scores[i][index[i]], rtol=1e-6)
        with self.assertRaises(rai.InvalidArgumentError):
            self.q.topk(self.m, 0)
        with self.assertRaises(rai.InvalidArgumentError):
            self.q.topk(self.m, 8)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            self.q.similarity(self.m, "euclid")
        self.assertIn("metric", cm.exception.message)
        with self.assertRaises(rai.DTypeMismatchError):
            self.q.similarity(self.m, "cosine", dtype="int32")

    def test_row_wise_algebra(self):
        key = vsa.ItemMemory.from_array(CTX, self.items[:1])
        bound = self.m.bind(key)
        for r in range(7):
            np.testing.assert_array_equal(bound.read(r, 1)[0], mod3_bind(self.items[r], self.items[0]))
        np.testing.assert_array_equal(bound.unbind(key).read(), self.items)
        np.testing.assert_array_equal(self.m.permute(3).read(), np.roll(self.items, 3, axis=1))
        self.assertEqual(self.m.bundle(), vsa.bundle(list(self.items)))
        w = [1, 2, -1, 1, 1, 3, 1]
        self.assertEqual(self.m.bundle(weights=w), vsa.bundle(list(self.items), weights=w))
        with self.assertRaises(rai.ShapeMismatchError):
            self.m.bind(self.q)
        with self.assertRaises(TypeError):
            self.m.bind(self.items)
        for h in (key, bound):
            h.close()

    def test_closed_and_lifetime(self):
        m = vsa.ItemMemory(rai.Context("cpu"), 2, 8)  # the ItemMemory keeps its Context alive
        gc.collect()
        self.assertEqual(m.read().shape, (2, 8))
        m.close()
        with self.assertRaises(ValueError):
            m.read()
        with self.assertRaises(TypeError):
            vsa.ItemMemory("cpu", 1, 1)


if __name__ == "__main__":
    unittest.main()
