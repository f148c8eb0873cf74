package rai

import (
	"fmt"
	"math"
	"math/rand"
	"sort"
	"testing"

	"rai.invalid/rai/native"
)

// Sizes that straddle the 32/64-trit words and the SIMD widths.
var awkwardDims = []int{1, 31, 33, 65, 127, 1000, 65537}

func randomTrits(r *rand.Rand, n int) []int8 {
	t := make([]int8, n)
	for i := range t {
		t[i] = int8(r.Intn(3) - 1)
	}
	return t
}

func mustVec(t *testing.T, trits []int8) *TritVector {
	t.Helper()
	v, err := TritVectorFromInt8(trits)
	if err != nil {
		t.Fatalf("TritVectorFromInt8: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// toInt8(t)(v, err) checks err, reads v's trits and closes v: toInt8(t)(Bind(a, b, m)).
func toInt8(t *testing.T) func(v *TritVector, err error) []int8 {
	return func(v *TritVector, err error) []int8 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		out, err := v.Int8()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

func equalTrits(t *testing.T, what string, got, want []int8) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d trits, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: trit %d = %d, want %d", what, i, got[i], want[i])
		}
	}
}

func TestEnumValuesMatchHeader(t *testing.T) {
	pairs := []struct{ ours, header int }{
		{int(BindMod3), int(native.RAI_VSA_BIND_MOD3)}, {int(BindMul), int(native.RAI_VSA_BIND_MUL)},
		{int(TieZero), int(native.RAI_VSA_TIE_ZERO)}, {int(TieRandom), int(native.RAI_VSA_TIE_RANDOM)},
		{int(RNGTritVSA), int(native.RAI_VSA_RNG_TRITVSA_XS64)}, {int(RNGCounter), int(native.RAI_VSA_RNG_COUNTER)},
		{int(RNGTritterChaCha8), int(native.RAI_VSA_RNG_TRITTER_CHACHA8)},
		{int(Dense), int(native.RAI_VSA_DENSE)}, {int(Bipolar), int(native.RAI_VSA_BIPOLAR)}, {int(Sparse), int(native.RAI_VSA_SPARSE)},
		{int(MetricCosine), int(native.RAI_VSA_COSINE)}, {int(MetricDot), int(native.RAI_VSA_DOT)},
		{int(MetricHammingDistance), int(native.RAI_VSA_HAMMING_DISTANCE)},
		{int(MetricHammingSimilarity), int(native.RAI_VSA_HAMMING_SIMILARITY)}, {int(MetricEqualCount), int(native.RAI_VSA_EQUAL_COUNT)},
	}
	for i, p := range pairs {
		if p.ours != p.header {
			t.Errorf("enum pair %d: Go %d, rai.h %d", i, p.ours, p.header)
		}
	}
}

func TestTritScalars(t *testing.T) {
	for _, a := range []int8{-1, 0, 1} {
		n, err := TritNeg(a)
		if err != nil || n != -a {
			t.Fatalf("TritNeg(%d) = %d, %v", a, n, err)
		}
		p, m, err := TritToBits(a)
		if err != nil || int8(p)-int8(m) != a {
			t.Fatalf("TritToBits(%d) = %d %d, %v", a, p, m, err)
		}
		back, err := TritFromBits(p, m)
		if err != nil || back != a {
			t.Fatalf("TritFromBits round trip of %d: %d, %v", a, back, err)
		}
		for _, b := range []int8{-1, 0, 1} {
			prod, err := TritMul(a, b)
			if err != nil || prod != a*b {
				t.Fatalf("TritMul(%d, %d) = %d, %v", a, b, prod, err)
			}
			d, c, err := TritAdd(a, b)
			if err != nil || int(d)+3*int(c) != int(a)+int(b) || d < -1 || d > 1 {
				t.Fatalf("TritAdd(%d, %d) = %d + 3*%d, %v", a, b, d, c, err)
			}
		}
	}
	if d, c, _ := TritAdd(1, 1); d != -1 || c != 1 {
		t.Fatalf("1 + 1 = %d + 3*%d, want -1 + 3*1", d, c)
	}
	_, err := TritNeg(2)
	wantError(t, err, StatusInvalidArgument)
	_, err = TritFromBits(1, 1)
	wantError(t, err, StatusInvalidArgument)
}

func TestTryteAndWord(t *testing.T) {
	zero, err := TryteFromInt(0)
	if err != nil || uint(zero) != native.RAI_TRYTE3_ZERO || zero != 21 {
		t.Fatalf("TryteFromInt(0) = %d, %v; want raw 21", zero, err)
	}
	for a := -TryteMax; a <= TryteMax; a++ {
		ta, err := TryteFromInt(a)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := ta.Int(); err != nil || v != a {
			t.Fatalf("tryte %d round trip: %d, %v", a, v, err)
		}
		trits, _ := ta.Trits()
		if int(trits[0])+3*int(trits[1])+9*int(trits[2]) != a {
			t.Fatalf("tryte %d trits %v", a, trits)
		}
		if again, _ := TryteFromTrits(trits); again != ta {
			t.Fatalf("TryteFromTrits(%v) = %d, want %d", trits, again, ta)
		}
		if tr, _ := ta.Trit(2); tr != trits[2] {
			t.Fatalf("Trit(2) = %d, want %d", tr, trits[2])
		}
		neg, _ := ta.Neg()
		if v, _ := neg.Int(); v != -a {
			t.Fatalf("-%d = %d", a, v)
		}
		for b := -TryteMax; b <= TryteMax; b += 5 {
			tb, _ := TryteFromInt(b)
			s, c, err := ta.Add(tb)
			sv, _ := s.Int()
			if err != nil || sv+27*int(c) != a+b {
				t.Fatalf("%d + %d = %d + 27*%d, %v", a, b, sv, c, err)
			}
			lo, hi, err := ta.Mul(tb)
			lv, _ := lo.Int()
			hv, _ := hi.Int()
			if err != nil || lv+27*hv != a*b {
				t.Fatalf("%d * %d = %d + 27*%d, %v", a, b, lv, hv, err)
			}
		}
	}
	_, err = TryteFromInt(14)
	wantError(t, err, StatusOutOfRange)
	_, err = Tryte(0x40).Int()
	wantError(t, err, StatusInvalidArgument, "raw")
	_, err = zero.Trit(3)
	wantError(t, err, StatusOutOfRange)
	_, err = zero.Trit(-1)
	wantError(t, err, StatusOutOfRange)
	_, err = TryteFromTrits([3]int8{0, 2, 0})
	wantError(t, err, StatusInvalidArgument)

	wz, _ := WordFromInt(0)
	if uint(wz) != native.RAI_WORD6_ZERO {
		t.Fatalf("WordFromInt(0) = %d, want %d", wz, native.RAI_WORD6_ZERO)
	}
	for _, a := range []int{-WordMax, -200, -1, 0, 1, 77, WordMax} {
		w, err := WordFromInt(a)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi, _ := w.Trytes()
		lv, _ := lo.Int()
		hv, _ := hi.Int()
		if lv+27*hv != a {
			t.Fatalf("word %d = %d + 27*%d", a, lv, hv)
		}
		if w2, _ := WordFromTrytes(lo, hi); w2 != w {
			t.Fatalf("WordFromTrytes round trip of %d", a)
		}
		trits, _ := w.Trits()
		if w3, _ := WordFromTrits(trits); w3 != w {
			t.Fatalf("WordFromTrits round trip of %d", a)
		}
		b, _ := WordFromInt(300)
		s, c, _ := w.Add(b)
		sv, _ := s.Int()
		if sv+729*int(c) != a+300 {
			t.Fatalf("%d + 300 = %d + 729*%d", a, sv, c)
		}
		l, h, _ := w.Mul(b)
		lv2, _ := l.Int()
		hv2, _ := h.Int()
		if lv2+729*hv2 != a*300 {
			t.Fatalf("%d * 300 = %d + 729*%d", a, lv2, hv2)
		}
		n, _ := w.Neg()
		if nv, _ := n.Int(); nv != -a {
			t.Fatalf("-%d = %d", a, nv)
		}
		if tr, _ := w.Trit(5); tr != trits[5] {
			t.Fatalf("Trit(5) of %d", a)
		}
	}
	_, err = WordFromInt(365)
	wantError(t, err, StatusOutOfRange)
	_, err = Word(0x1000).Int()
	wantError(t, err, StatusInvalidArgument, "raw word")
}

func TestTernaryDigits(t *testing.T) {
	d, err := TernaryDigits(5, 0) // 5 = -1 + -1*3 + 1*9
	if err != nil {
		t.Fatal(err)
	}
	equalTrits(t, "digits(5)", d, []int8{-1, -1, 1})
	if d, _ := TernaryDigits(0, 0); len(d) != 1 || d[0] != 0 {
		t.Fatalf("digits(0) = %v", d)
	}
	if d, _ := TernaryDigits(1, 4); len(d) != 4 {
		t.Fatalf("minDigits 4 gave %v", d)
	}
	r := rand.New(rand.NewSource(7))
	for _, v := range []int64{math.MaxInt64, math.MinInt64 + 1, math.MinInt64, -1, 123456789} {
		dv, err := TernaryDigits(v, 0)
		if err != nil {
			t.Fatalf("digits(%d): %v", v, err)
		}
		back, err := TernaryDigitsValue(dv)
		if err != nil || back != v {
			t.Fatalf("digits(%d) round trip: %d, %v", v, back, err)
		}
	}
	for i := 0; i < 200; i++ {
		a, b := r.Int63n(1<<30)-1<<29, r.Int63n(1<<30)-1<<29
		da, _ := TernaryDigits(a, 0)
		db, _ := TernaryDigits(b, 0)
		sum, err := TernaryDigitsAdd(da, db)
		if err != nil {
			t.Fatal(err)
		}
		prod, err := TernaryDigitsMul(da, db)
		if err != nil {
			t.Fatal(err)
		}
		neg, err := TernaryDigitsNeg(da)
		if err != nil {
			t.Fatal(err)
		}
		sv, _ := TernaryDigitsValue(sum)
		pv, _ := TernaryDigitsValue(prod)
		nv, _ := TernaryDigitsValue(neg)
		if sv != a+b || pv != a*b || nv != -a {
			t.Fatalf("a=%d b=%d: sum %d product %d neg %d", a, b, sv, pv, nv)
		}
		cmp, _ := TernaryDigitsCompare(da, db)
		want := 0
		if a < b {
			want = -1
		} else if a > b {
			want = 1
		}
		if cmp != want {
			t.Fatalf("compare(%d, %d) = %d", a, b, cmp)
		}
	}
	big := make([]int8, 60)
	big[59] = 1
	_, err = TernaryDigitsValue(big)
	wantError(t, err, StatusOutOfRange)
	_, err = TernaryDigitsValue([]int8{0, 5})
	wantError(t, err, StatusInvalidArgument)
	_, err = TernaryDigits(1, -1)
	wantError(t, err, StatusInvalidArgument, "minDigits")
}

func TestTritVectorRoundTrips(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, dim := range awkwardDims {
		trits := randomTrits(r, dim)
		v := mustVec(t, trits)
		if v.Dim() != dim {
			t.Fatalf("Dim = %d, want %d", v.Dim(), dim)
		}
		got, err := v.Int8()
		if err != nil {
			t.Fatal(err)
		}
		equalTrits(t, "int8 round trip", got, trits)

		var pos, neg, sum int
		for _, x := range trits {
			switch x {
			case 1:
				pos++
			case -1:
				neg++
			}
		}
		sum = pos - neg
		if n, _ := v.CountPositive(); n != pos {
			t.Fatalf("dim %d: CountPositive %d, want %d", dim, n, pos)
		}
		if n, _ := v.CountNegative(); n != neg {
			t.Fatalf("CountNegative %d, want %d", n, neg)
		}
		if n, _ := v.CountNonzero(); n != pos+neg {
			t.Fatalf("CountNonzero %d, want %d", n, pos+neg)
		}
		if s, _ := v.Sum(); s != int64(sum) {
			t.Fatalf("Sum %d, want %d", s, sum)
		}
		if sp, _ := v.Sparsity(); math.Abs(sp-(1-float64(pos+neg)/float64(dim))) > 1e-12 {
			t.Fatalf("Sparsity %v", sp)
		}

		p64, m64, err := v.Planes64()
		if err != nil || len(p64) != (dim+63)/64 {
			t.Fatalf("Planes64: %d words, %v", len(p64), err)
		}
		for i, x := range trits {
			bitP := p64[i/64]>>(uint(i)%64)&1 == 1
			bitM := m64[i/64]>>(uint(i)%64)&1 == 1
			if bitP != (x == 1) || bitM != (x == -1) {
				t.Fatalf("plane bits of trit %d (%d): plus %v minus %v", i, x, bitP, bitM)
			}
		}
		v64, err := TritVectorFromPlanes64(dim, p64, m64)
		if err != nil {
			t.Fatal(err)
		}
		equalTrits(t, "planes64 round trip", toInt8(t)(v64, nil), trits)
		p32, m32, _ := v.Planes32()
		v32, err := TritVectorFromPlanes32(dim, p32, m32)
		if err != nil {
			t.Fatal(err)
		}
		equalTrits(t, "planes32 round trip", toInt8(t)(v32, nil), trits)

		c, _ := v.Clone()
		if eq, _ := v.Equal(c); !eq {
			t.Fatal("clone differs")
		}
		c.Set(dim-1, -trits[dim-1]+boolTrit(trits[dim-1] == 0))
		if eq, _ := v.Equal(c); eq {
			t.Fatal("Set on the clone changed nothing or changed v")
		}
		if x, _ := v.Get(dim - 1); x != trits[dim-1] {
			t.Fatal("Set on the clone changed v")
		}
		c.Close()

		neg2 := toInt8(t)(v.Negate())
		for i := range neg2 {
			if neg2[i] != -trits[i] {
				t.Fatalf("Negate trit %d", i)
			}
		}
	}
}

func boolTrit(b bool) int8 {
	if b {
		return 1
	}
	return 0
}

func TestTritVectorErrors(t *testing.T) {
	_, err := TritVectorFromInt8([]int8{0, 1, 2})
	wantError(t, err, StatusInvalidArgument)
	v := mustVec(t, []int8{1, 0, -1})
	if err := v.SetInt8([]int8{1, 1}); err == nil {
		t.Fatal("SetInt8 with 2 values into dim 3 succeeded")
	}
	if err := v.SetInt8([]int8{1, 5, 1}); err == nil {
		t.Fatal("SetInt8 with a 5 succeeded")
	}
	if got, _ := v.Int8(); got[0] != 1 || got[1] != 0 || got[2] != -1 {
		t.Fatalf("a failed SetInt8 changed v: %v", got)
	}
	_, err = v.Get(3)
	wantError(t, err, StatusOutOfRange)
	_, err = v.Get(-1)
	wantError(t, err, StatusOutOfRange)
	wantError(t, v.Set(0, 3), StatusInvalidArgument)
	_, err = TritVectorFromPlanes64(3, []uint64{1}, []uint64{1})
	wantError(t, err, StatusInvalidArgument)
	_, err = TritVectorFromPlanes64(3, []uint64{1, 0}, []uint64{0})
	wantError(t, err, StatusShapeMismatch)
	_, err = NewTritVector(-1)
	wantError(t, err, StatusInvalidArgument, "dim")
	w := mustVec(t, []int8{1, 1})
	_, err = v.Add(w)
	wantError(t, err, StatusShapeMismatch)

	// Closed and nil handles: errors, never a panic.
	v.Close()
	v.Close()
	_, err = v.Int8()
	wantError(t, err, StatusInvalidArgument, "closed", "TritVector")
	_, err = Bind(v, w, BindMod3)
	wantError(t, err, StatusInvalidArgument, "a: use of a closed")
	var nilVec *TritVector
	_, err = Dot(w, nilVec)
	wantError(t, err, StatusInvalidArgument, "b is nil")
}

// bindRef is bind MOD3 computed here: (a - b) mod 3 in balanced form.
func bindRef(a, b int8) int8 {
	x := (int(a) - int(b) + 3) % 3
	if x == 2 {
		x = -1
	}
	return int8(x)
}

func TestVSAInvariants(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for _, dim := range awkwardDims {
		ta, tb := randomTrits(r, dim), randomTrits(r, dim)
		a, b := mustVec(t, ta), mustVec(t, tb)

		c, err := Bind(a, b, BindMod3)
		if err != nil {
			t.Fatal(err)
		}
		ct, _ := c.Int8()
		for i := range ct {
			if ct[i] != bindRef(ta[i], tb[i]) {
				t.Fatalf("dim %d: bind trit %d = %d, want %d", dim, i, ct[i], bindRef(ta[i], tb[i]))
			}
		}
		equalTrits(t, "unbind(bind(a, b), b)", toInt8(t)(Unbind(c, b, BindMod3)), ta)
		c.Close()
		for i, x := range toInt8(t)(Bind(a, a, BindMod3)) {
			if x != 0 {
				t.Fatalf("bind(a, a) trit %d = %d, want 0", i, x)
			}
		}
		// MOD3 is anti-commutative.
		ab := toInt8(t)(Bind(a, b, BindMod3))
		ba := toInt8(t)(Bind(b, a, BindMod3))
		for i := range ab {
			if ab[i] != -ba[i] {
				t.Fatalf("bind(b, a) != -bind(a, b) at %d", i)
			}
		}
		// MUL: element-wise product, self-inverse on a bipolar key.
		key, _ := RandomTritVector(dim, RandomOptions{Distribution: Bipolar, Seed: 9})
		defer key.Close()
		keyT, _ := key.Int8()
		bound, _ := Bind(a, key, BindMul)
		bt, _ := bound.Int8()
		for i := range bt {
			if bt[i] != ta[i]*keyT[i] {
				t.Fatalf("MUL bind trit %d", i)
			}
		}
		equalTrits(t, "MUL unbind", toInt8(t)(Unbind(bound, key, BindMul)), ta)
		bound.Close()

		// Permute round trip and position check.
		for _, shift := range []int64{1, -1, 5, int64(dim) + 3} {
			p, err := Permute(a, shift)
			if err != nil {
				t.Fatal(err)
			}
			pt, _ := p.Int8()
			for i := range ta {
				j := int(((int64(i)+shift)%int64(dim) + int64(dim)) % int64(dim))
				if pt[j] != ta[i] {
					t.Fatalf("permute %d: trit %d not at %d", shift, i, j)
				}
			}
			equalTrits(t, "permute round trip", toInt8(t)(Permute(p, -shift)), ta)
			p.Close()
		}

		// Similarities against values computed here.
		var dot int64
		var nzA, nzB, diff, equal int
		for i := range ta {
			dot += int64(ta[i]) * int64(tb[i])
			if ta[i] != 0 {
				nzA++
			}
			if tb[i] != 0 {
				nzB++
			}
			if ta[i] != tb[i] {
				diff++
			} else {
				equal++
			}
		}
		if d, _ := Dot(a, b); d != dot {
			t.Fatalf("Dot %d, want %d", d, dot)
		}
		wantCos := float32(0)
		if nzA > 0 && nzB > 0 {
			wantCos = float32(float64(dot) / math.Sqrt(float64(nzA)*float64(nzB)))
		}
		if c, _ := Cosine(a, b); c != wantCos {
			t.Fatalf("Cosine %v, want %v", c, wantCos)
		}
		if h, _ := HammingDistance(a, b); h != diff {
			t.Fatalf("HammingDistance %d, want %d", h, diff)
		}
		if e, _ := EqualCount(a, b); e != equal {
			t.Fatalf("EqualCount %d, want %d", e, equal)
		}
		if s, _ := HammingSimilarity(a, b); math.Abs(float64(s)-(1-float64(diff)/float64(dim))) > 1e-6 {
			t.Fatalf("HammingSimilarity %v", s)
		}
	}
}

func TestBundle(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	dim := 257
	trits := [][]int8{randomTrits(r, dim), randomTrits(r, dim), randomTrits(r, dim)}
	vs := []*TritVector{mustVec(t, trits[0]), mustVec(t, trits[1]), mustVec(t, trits[2])}
	weights := []int32{3, -1, 2}
	counts, err := BundleCounts(vs, weights)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int32, dim)
	for k := range trits {
		for i := range trits[k] {
			want[i] += weights[k] * int32(trits[k][i])
		}
	}
	for i := range want {
		if counts[i] != want[i] {
			t.Fatalf("count %d = %d, want %d", i, counts[i], want[i])
		}
	}
	sign := func(x int32) int8 {
		if x > 0 {
			return 1
		}
		if x < 0 {
			return -1
		}
		return 0
	}
	maj := toInt8(t)(Bundle(vs, weights, BundleOptions{}))
	for i := range maj {
		if maj[i] != sign(want[i]) {
			t.Fatalf("bundle trit %d = %d, want %d", i, maj[i], sign(want[i]))
		}
	}
	// Accumulate + Threshold give the same majority.
	acc := make([]int32, dim)
	for k := range vs {
		if err := Accumulate(acc, vs[k], weights[k]); err != nil {
			t.Fatal(err)
		}
	}
	equalTrits(t, "threshold(accumulate)", toInt8(t)(Threshold(acc, 0)), maj)
	// The bundle of two is the clamped sum.
	two := toInt8(t)(Bundle(vs[:2], nil, BundleOptions{}))
	equalTrits(t, "bundle of two = Add", toInt8(t)(vs[0].Add(vs[1])), two)
	// BindMany is the left fold.
	ab, _ := Bind(vs[0], vs[1], BindMod3)
	abc := toInt8(t)(Bind(ab, vs[2], BindMod3))
	ab.Close()
	equalTrits(t, "BindMany", toInt8(t)(BindMany(vs, BindMod3)), abc)

	_, err = Bundle(nil, nil, BundleOptions{})
	wantError(t, err, StatusInvalidArgument, "empty")
	_, err = Bundle(vs, []int32{1}, BundleOptions{})
	wantError(t, err, StatusShapeMismatch, "weights")
	_, err = Threshold(acc, -1)
	wantError(t, err, StatusInvalidArgument)
	over := []int32{math.MaxInt32}
	one := mustVec(t, []int8{1})
	wantError(t, Accumulate(over, one, 1), StatusOutOfRange)
	if over[0] != math.MaxInt32 {
		t.Fatal("a failed Accumulate changed counts")
	}
	_, err = BindMany([]*TritVector{vs[0], nil}, BindMod3)
	wantError(t, err, StatusInvalidArgument, "vectors[1] is nil")
}

func TestRandomDeterministic(t *testing.T) {
	for _, gen := range []RNG{RNGTritVSA, RNGCounter} {
		a := toInt8(t)(RandomTritVector(1000, RandomOptions{Generator: gen, Seed: 42}))
		b := toInt8(t)(RandomTritVector(1000, RandomOptions{Generator: gen, Seed: 42}))
		equalTrits(t, "same seed", a, b)
		c := toInt8(t)(RandomTritVector(1000, RandomOptions{Generator: gen, Seed: 43}))
		same := 0
		for i := range a {
			if a[i] == c[i] {
				same++
			}
		}
		if same > 500 { // ~1/3 expected for independent dense vectors
			t.Fatalf("seeds 42 and 43 agree on %d of 1000 trits", same)
		}
	}
	s := toInt8(t)(RandomTritVector(10000, RandomOptions{Distribution: Sparse, Density: 0.1, Seed: 1}))
	nz := 0
	for _, x := range s {
		if x != 0 {
			nz++
		}
	}
	if nz < 800 || nz > 1200 {
		t.Fatalf("density 0.1 gave %d non-zeros of 10000", nz)
	}
	_, err := RandomTritVector(10, RandomOptions{Distribution: Sparse, Density: 0})
	wantError(t, err, StatusInvalidArgument, "density")
	if b := VSACPUBackend(); b != "scalar" && b != "avx2" && b != "avx512" {
		t.Fatalf("VSACPUBackend = %q", b)
	}
}

func TestRandomTritterChaCha8Golden(t *testing.T) {
	// tests/ternary/golden/tritter_chacha/golden.txt (rand_chacha 0.3.1, tritter's mapping):
	// "trits 42 100 ..." and "trits 4294967338 100 ..." (the seed is not truncated here).
	golden := map[uint64]string{
		42:         "-+-++000+-0----+0++-000+0++0++--+0---0--+-0--+0-0-0--+0+0+++0++---+--+-++0--0+-00++++--+++0++00++00+",
		4294967338: "-00+++-+++-0-------+0--00+0+-0--0-0+-+-+0+-00--0+-0---0---+00++00+-++--0-+-+0--+0+++-+-0+000--0++0-0",
	}
	for seed, text := range golden {
		want := make([]int8, len(text))
		for i, c := range text {
			want[i] = map[rune]int8{'-': -1, '0': 0, '+': 1}[c]
		}
		got := toInt8(t)(RandomTritVector(len(text), RandomOptions{Generator: RNGTritterChaCha8, Seed: seed}))
		equalTrits(t, fmt.Sprintf("tritter ChaCha8 seed %d", seed), got, want)
	}
	_, err := RandomTritVector(10, RandomOptions{Generator: RNGTritterChaCha8, Distribution: Bipolar})
	wantError(t, err, StatusInvalidArgument, "params->distribution 1")
}

func TestSparseTritVector(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for _, dim := range []int{1, 33, 1000} {
		trits := randomTrits(r, dim)
		var pos, neg []uint64
		for i, x := range trits {
			if x == 1 {
				pos = append(pos, uint64(i))
			} else if x == -1 {
				neg = append(neg, uint64(i))
			}
		}
		// Shuffled input is accepted; output is sorted.
		shuffled := append([]uint64(nil), pos...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		s, err := SparseTritVectorFromIndices(dim, shuffled, neg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		gp, gn, err := s.Indices()
		if err != nil {
			t.Fatal(err)
		}
		if len(gp) != len(pos) || len(gn) != len(neg) || !sort.SliceIsSorted(gp, func(i, j int) bool { return gp[i] < gp[j] }) {
			t.Fatalf("Indices: %d/%d positive, %d/%d negative", len(gp), len(pos), len(gn), len(neg))
		}
		for i := range gp {
			if gp[i] != pos[i] {
				t.Fatalf("positive[%d] = %d, want %d", i, gp[i], pos[i])
			}
		}
		if n, _ := s.Nnz(); n != len(pos)+len(neg) {
			t.Fatalf("Nnz %d", n)
		}
		equalTrits(t, "sparse to dense", toInt8(t)(s.Dense()), trits)
		dense := mustVec(t, trits)
		s2, err := SparseTritVectorFromDense(dense)
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		other := mustVec(t, randomTrits(r, dim))
		so, _ := SparseTritVectorFromDense(other)
		defer so.Close()
		want, _ := Dot(dense, other)
		if d, _ := s.Dot(so); d != want {
			t.Fatalf("sparse Dot %d, want %d", d, want)
		}
		if d, _ := s.DotDense(other); d != want {
			t.Fatalf("sparse DotDense %d, want %d", d, want)
		}
		wc, _ := Cosine(dense, other)
		if c, _ := s.Cosine(so); c != wc {
			t.Fatalf("sparse Cosine %v, want %v", c, wc)
		}
		if c, _ := s.CosineDense(other); c != wc {
			t.Fatalf("sparse CosineDense %v, want %v", c, wc)
		}
		if mb, err := s.MemoryBytes(); err != nil || mb <= 0 {
			t.Fatalf("MemoryBytes %d, %v", mb, err)
		}
		if x, _ := s2.Get(dim - 1); x != trits[dim-1] {
			t.Fatal("Get")
		}
	}
	_, err := SparseTritVectorFromIndices(4, []uint64{4}, nil)
	wantError(t, err, StatusOutOfRange)
	_, err = SparseTritVectorFromIndices(4, []uint64{1}, []uint64{1})
	wantError(t, err, StatusInvalidArgument)
	s, _ := NewSparseTritVector(4)
	if err := s.Set(2, -1); err != nil {
		t.Fatal(err)
	}
	if x, _ := s.Get(2); x != -1 {
		t.Fatal("Set/Get")
	}
	s.Close()
	_, err = s.Nnz()
	wantError(t, err, StatusInvalidArgument, "closed")
}

func TestVSAMatrix(t *testing.T) {
	ctx := cpuContext(t)
	r := rand.New(rand.NewSource(5))
	rows, dim := 7, 133
	m, err := NewVSAMatrix(ctx, rows, dim)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	data := randomTrits(r, rows*dim)
	if err := m.WriteInt8(0, data); err != nil {
		t.Fatal(err)
	}
	back, err := m.ReadInt8(0, rows)
	if err != nil {
		t.Fatal(err)
	}
	equalTrits(t, "matrix int8 round trip", back, data)
	row3, _ := m.Row(3)
	equalTrits(t, "Row(3)", toInt8(t)(row3, nil), data[3*dim:4*dim])
	part, _ := m.ReadInt8(5, 2)
	equalTrits(t, "ReadInt8(5, 2)", part, data[5*dim:])

	// Queries: rows 2 and 6 of m, lightly perturbed; top-1 must find them.
	q, _ := NewVSAMatrix(ctx, 2, dim)
	defer q.Close()
	qd := append(append([]int8(nil), data[2*dim:3*dim]...), data[6*dim:7*dim]...)
	qd[0], qd[dim] = 0, 0
	if err := q.WriteInt8(0, qd); err != nil {
		t.Fatal(err)
	}
	idx, score, err := q.TopK(m, 3, MetricCosine)
	if err != nil {
		t.Fatal(err)
	}
	if idx[0] != 2 || idx[3] != 6 {
		t.Fatalf("top-1 = %d, %d; want 2, 6", idx[0], idx[3])
	}
	sim, err := q.Similarity(m, MetricCosine)
	if err != nil {
		t.Fatal(err)
	}
	qa := mustVec(t, qd[:dim])
	for j := 0; j < rows; j++ {
		item := mustVec(t, data[j*dim:(j+1)*dim])
		want, _ := Cosine(qa, item)
		if sim[j] != want {
			t.Fatalf("similarity[0, %d] = %v, want %v", j, sim[j], want)
		}
	}
	if score[0] != sim[2] || score[1] < score[2] {
		t.Fatalf("top-k scores %v not best first / not the similarity", score[:3])
	}
	dots, err := q.SimilarityInt(m, MetricDot)
	if err != nil {
		t.Fatal(err)
	}
	item2 := mustVec(t, data[2*dim:3*dim])
	if want, _ := Dot(qa, item2); int64(dots[2]) != want {
		t.Fatalf("dot[0, 2] = %d, want %d", dots[2], want)
	}

	// Row-wise bind with a one-row key, unbind, permute, bundle.
	key, _ := NewVSAMatrix(ctx, 1, dim)
	defer key.Close()
	if err := key.Random(RandomOptions{Seed: 11}); err != nil {
		t.Fatal(err)
	}
	bound, err := m.Bind(key, BindMod3)
	if err != nil {
		t.Fatal(err)
	}
	defer bound.Close()
	un, err := bound.Unbind(key, BindMod3)
	if err != nil {
		t.Fatal(err)
	}
	defer un.Close()
	ub, _ := un.ReadInt8(0, rows)
	equalTrits(t, "matrix unbind(bind)", ub, data)
	pm, _ := m.Permute(3)
	defer pm.Close()
	p0, _ := pm.Row(0)
	r0, _ := m.Row(0)
	want := toInt8(t)(Permute(r0, 3))
	equalTrits(t, "matrix permute row 0", toInt8(t)(p0, nil), want)
	mb, err := m.Bundle(nil, BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all := make([]*TritVector, rows)
	for i := range all {
		all[i] = mustVec(t, data[i*dim:(i+1)*dim])
	}
	equalTrits(t, "matrix bundle", toInt8(t)(mb, nil), toInt8(t)(Bundle(all, nil, BundleOptions{})))
	rk, _ := key.Row(0)
	equalTrits(t, "matrix random row 0 = RandomTritVector(seed)", toInt8(t)(rk, nil),
		toInt8(t)(RandomTritVector(dim, RandomOptions{Seed: 11})))

	// Errors.
	_, _, err = q.TopK(m, 0, MetricCosine)
	wantError(t, err, StatusOutOfRange, "k")
	_, _, err = q.TopK(m, rows+1, MetricCosine)
	wantError(t, err, StatusOutOfRange, "k")
	bad := make([]int8, dim)
	bad[7] = 2
	wantError(t, m.WriteInt8(0, bad), StatusInvalidArgument)
	if again, _ := m.ReadInt8(0, 1); again[7] != data[7] {
		t.Fatal("a failed WriteInt8 wrote")
	}
	wantError(t, m.WriteInt8(0, make([]int8, dim+1)), StatusShapeMismatch, "multiple of dim")
	if err := m.WriteInt8(rows, make([]int8, dim)); err == nil {
		t.Fatal("WriteInt8 past the last row succeeded")
	}
	_, err = m.Row(rows)
	wantError(t, err, StatusOutOfRange)
	other, _ := NewVSAMatrix(ctx, 1, dim+1)
	_, err = m.Bind(other, BindMod3)
	wantError(t, err, StatusShapeMismatch)
	other.Close()
	_, err = m.Bind(other, BindMod3)
	wantError(t, err, StatusInvalidArgument, "b: use of a closed rai VSAMatrix")
}
