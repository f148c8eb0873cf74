// The packed-trit kernel algorithms, written once over a small vector abstraction `V` and
// instantiated by each per-ISA file (scalar u64, AVX2 __m256i, AVX-512 __m512i). Include this
// header only from a kernels_*.cpp file, after defining the V and Pop types, inside an unnamed
// namespace: every instantiation then has internal linkage and the ISA of its own file.
//
// V provides: T, kWords (u64 words per T), load, store (aligned), loadu, storeu, and_, or_,
// xor_, andnot (~a & b), zero, ones, shr / shl (each 64-bit lane by a count in [1, 63]). Pop accumulates population counts: add(T), total().
//
// Bit-parallel identities (z = NOT(p OR m); padding is zero and stays zero):
//   bind (a - b): p = ap&bz | az&bm | am&bp,  m = am&bz | az&bp | ap&bm
//   unbind (a + b): p = ap&bz | az&bp | am&bm,  m = am&bz | az&bm | ap&bp
//   mul: p = ap&bp | am&bm,  m = ap&bm | am&bp
//   add_clamped (sign of a + b): p = ap&~bm | bp&~am,  m = am&~bp | bm&~ap
//   dot = popcnt(ap&bp | am&bm) - popcnt(ap&bm | am&bp)
//   hamming = popcnt((ap^bp) | (am^bm))

template <class V, int Op>
inline void binary_loop(const u64 *a, const u64 *b, u64 *out, std::size_t wpad) {
    using T = typename V::T;
    const u64 *ap = a, *am = a + wpad, *bp = b, *bm = b + wpad;
    u64 *op = out, *om = out + wpad;
    for (std::size_t i = 0; i < wpad; i += V::kWords) {
        const T xp = V::load(ap + i), xm = V::load(am + i), yp = V::load(bp + i), ym = V::load(bm + i);
        T p, m;
        if constexpr (Op == kOpMul) {
            p = V::or_(V::and_(xp, yp), V::and_(xm, ym));
            m = V::or_(V::and_(xp, ym), V::and_(xm, yp));
        } else if constexpr (Op == kOpAddClamped) {
            p = V::or_(V::andnot(ym, xp), V::andnot(xm, yp));
            m = V::or_(V::andnot(yp, xm), V::andnot(xp, ym));
        } else {
            const T ones = V::ones();
            const T xz = V::xor_(V::or_(xp, xm), ones), yz = V::xor_(V::or_(yp, ym), ones);
            // unbind adds b, bind adds -b: swap b's planes for bind.
            const T sp = Op == kOpBind ? ym : yp, sm = Op == kOpBind ? yp : ym;
            p = V::or_(V::or_(V::and_(xp, yz), V::and_(xz, sp)), V::and_(xm, sm));
            m = V::or_(V::or_(V::and_(xm, yz), V::and_(xz, sm)), V::and_(xp, sp));
        }
        V::store(op + i, p);
        V::store(om + i, m);
    }
}

template <class V>
inline void binary_impl(int op, const u64 *a, const u64 *b, u64 *out, std::size_t wpad) {
    switch (op) {
    case kOpBind: binary_loop<V, kOpBind>(a, b, out, wpad); break;
    case kOpUnbind: binary_loop<V, kOpUnbind>(a, b, out, wpad); break;
    case kOpMul: binary_loop<V, kOpMul>(a, b, out, wpad); break;
    default: binary_loop<V, kOpAddClamped>(a, b, out, wpad); break;
    }
}

template <class V, class Pop>
inline int64_t dot_impl(const u64 *a, const u64 *b, std::size_t wpad) {
    const u64 *ap = a, *am = a + wpad, *bp = b, *bm = b + wpad;
    Pop agree, disagree;
    for (std::size_t i = 0; i < wpad; i += V::kWords) {
        const auto xp = V::load(ap + i), xm = V::load(am + i), yp = V::load(bp + i), ym = V::load(bm + i);
        agree.add(V::or_(V::and_(xp, yp), V::and_(xm, ym)));
        disagree.add(V::or_(V::and_(xp, ym), V::and_(xm, yp)));
    }
    return static_cast<int64_t>(agree.total()) - static_cast<int64_t>(disagree.total());
}

template <class V, class Pop>
inline uint64_t hamming_impl(const u64 *a, const u64 *b, std::size_t wpad) {
    const u64 *ap = a, *am = a + wpad, *bp = b, *bm = b + wpad;
    Pop diff;
    for (std::size_t i = 0; i < wpad; i += V::kWords)
        diff.add(V::or_(V::xor_(V::load(ap + i), V::load(bp + i)), V::xor_(V::load(am + i), V::load(bm + i))));
    return diff.total();
}

template <class V, class Pop>
inline uint64_t popcount_impl(const u64 *w, std::size_t nwords) {
    Pop pop;
    for (std::size_t i = 0; i < nwords; i += V::kWords) pop.add(V::load(w + i));
    return pop.total();
}

template <class V, class Pop>
inline void dot_many_impl(const u64 *q, const u64 *items, std::size_t nitems, std::size_t stride, std::size_t wpad,
                          int64_t *out) {
    for (std::size_t j = 0; j < nitems; ++j) out[j] = dot_impl<V, Pop>(q, items + j * stride, wpad);
}

template <class V, class Pop>
inline void hamming_many_impl(const u64 *q, const u64 *items, std::size_t nitems, std::size_t stride,
                              std::size_t wpad, int64_t *out) {
    for (std::size_t j = 0; j < nitems; ++j)
        out[j] = static_cast<int64_t>(hamming_impl<V, Pop>(q, items + j * stride, wpad));
}

// Bundle by bit-sliced counting: per bit position, the number of rows with +1 and the number
// with -1 are kept as binary numbers spread over bit-planes (plane k holds bit k of every
// position's count). Rows are first added into 3-bit counters in groups of up to 7, which are
// then added into the full-width counters. The result compares the two counts plane by plane
// from the most significant bit.
template <class V>
inline void bundle_impl(const u64 *const *rows, std::size_t n, u64 *out, u64 *ties, std::size_t wpad) {
    using T = typename V::T;
    constexpr int kMaxPlanes = 64;
    int planes = 1;
    while (planes < kMaxPlanes && (n >> planes) != 0) ++planes;  // n < 2^planes
    T P[kMaxPlanes], M[kMaxPlanes];
    for (std::size_t i = 0; i < wpad; i += V::kWords) {
        for (int k = 0; k < planes; ++k) P[k] = M[k] = V::zero();
        T voters = V::zero();
        for (std::size_t r0 = 0; r0 < n; r0 += 7) {
            const std::size_t r1 = r0 + 7 < n ? r0 + 7 : n;
            T p0 = V::zero(), p1 = V::zero(), p2 = V::zero();
            T m0 = V::zero(), m1 = V::zero(), m2 = V::zero();
            for (std::size_t r = r0; r < r1; ++r) {
                T x = V::load(rows[r] + i), y = V::load(rows[r] + wpad + i);
                voters = V::or_(voters, V::or_(x, y));
                T c = V::and_(p0, x);
                p0 = V::xor_(p0, x);
                x = c;
                c = V::and_(p1, x);
                p1 = V::xor_(p1, x);
                p2 = V::xor_(p2, c);  // at most 7 per group: never carries out of bit 2
                c = V::and_(m0, y);
                m0 = V::xor_(m0, y);
                y = c;
                c = V::and_(m1, y);
                m1 = V::xor_(m1, y);
                m2 = V::xor_(m2, c);
            }
            // Full-adder ripple of the 3-bit group counts into the wide counters.
            T cp = V::zero(), cm = V::zero();
            for (int k = 0; k < planes; ++k) {
                const T ip = k == 0 ? p0 : (k == 1 ? p1 : (k == 2 ? p2 : V::zero()));
                const T im = k == 0 ? m0 : (k == 1 ? m1 : (k == 2 ? m2 : V::zero()));
                const T sp = V::xor_(P[k], ip), sm = V::xor_(M[k], im);
                const T np = V::or_(V::and_(P[k], ip), V::and_(cp, sp));
                const T nm = V::or_(V::and_(M[k], im), V::and_(cm, sm));
                P[k] = V::xor_(sp, cp);
                M[k] = V::xor_(sm, cm);
                cp = np;
                cm = nm;
            }
        }
        T gt = V::zero(), lt = V::zero(), eq = V::ones();
        for (int k = planes - 1; k >= 0; --k) {
            gt = V::or_(gt, V::and_(eq, V::andnot(M[k], P[k])));
            lt = V::or_(lt, V::and_(eq, V::andnot(P[k], M[k])));
            eq = V::andnot(V::xor_(P[k], M[k]), eq);
        }
        V::store(out + i, gt);
        V::store(out + wpad + i, lt);
        if (ties != nullptr) V::store(ties + i, V::and_(eq, voters));
    }
}

template <class V>
inline void funnel_impl(u64 *d, const u64 *s, std::size_t n, unsigned sh) {
    std::size_t i = 0;
    // Vector steps read s[i .. i + kWords], all <= s[n].
    for (; i + V::kWords <= n; i += V::kWords)
        V::storeu(d + i, V::or_(V::shr(V::loadu(s + i), sh), V::shl(V::loadu(s + i + 1), 64 - sh)));
    for (; i < n; ++i) d[i] = (s[i] >> sh) | (s[i + 1] << (64 - sh));
}

// The table for one ISA.
template <class V, class Pop>
constexpr Kernels make_kernels(const char *name) {
    return Kernels{name,
                   &binary_impl<V>,
                   &dot_impl<V, Pop>,
                   &hamming_impl<V, Pop>,
                   &popcount_impl<V, Pop>,
                   &bundle_impl<V>,
                   &dot_many_impl<V, Pop>,
                   &hamming_many_impl<V, Pop>,
                   &funnel_impl<V>};
}
