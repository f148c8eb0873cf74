package rai

import (
	"bytes"
	binenc "encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
)

// bitsandbytes' NF4 code values (functional.py, create_normal_map), as float32.
var nf4Reference = [16]float32{
	-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
	-0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
	0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
	0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
}

func TestQ4Codebook(t *testing.T) {
	cb, err := Q4Codebook(NF4)
	if err != nil {
		t.Fatal(err)
	}
	if cb != nf4Reference {
		t.Fatalf("NF4 codebook %v, want bitsandbytes' %v", cb, nf4Reference)
	}
	fp4, err := Q4Codebook(FP4)
	if err != nil {
		t.Fatal(err)
	}
	if fp4[0] != 0 || !math.Signbit(float64(fp4[8])) || fp4[8] != 0 {
		t.Fatalf("FP4 code 0 = %v and code 8 = %v, want +0 and -0", fp4[0], fp4[8])
	}
	for i := 1; i < 8; i++ {
		if fp4[i+8] != -fp4[i] {
			t.Fatalf("FP4 code %d = %v, want -code %d = %v", i+8, fp4[i+8], i, -fp4[i])
		}
	}
	_, err = Q4Codebook(3)
	wantError(t, err, StatusInvalidArgument)
	if Q4CodesSize(65) != 33 || Q4CodesSize(1) != 1 {
		t.Fatal("Q4CodesSize")
	}
}

// The codebook itself, scaled, quantizes to codes 0..15 (high nibble first) and dequantizes
// exactly.
func TestQ4CodebookValuesRoundTrip(t *testing.T) {
	ctx := cpuContext(t)
	x := make([]float32, 64)
	for i := range x {
		x[i] = nf4Reference[i%16] * 2.5
	}
	codes, st, err := Quantize4(ctx, x, nil, Q4Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := 0; i < 32; i++ {
		hi, lo := codes[i]>>4, codes[i]&0xf
		if int(hi) != (2*i)%16 || int(lo) != (2*i+1)%16 {
			t.Fatalf("code byte %d = %#x, want codes %d and %d", i, codes[i], (2*i)%16, (2*i+1)%16)
		}
	}
	y, err := st.Dequantize(codes)
	if err != nil {
		t.Fatal(err)
	}
	for i := range x {
		if y[i] != x[i] {
			t.Fatalf("element %d: %v -> %v", i, x[i], y[i])
		}
	}
	absmax, err := st.Read(Q4Absmax)
	if err != nil || len(absmax) != 1 || absmax[0] != 2.5 {
		t.Fatalf("absmax %v, %v", absmax, err)
	}
	qmap, _ := st.Read(Q4QuantMap)
	for i := range qmap {
		if qmap[i] != nf4Reference[i] {
			t.Fatalf("quant_map[%d] = %v", i, qmap[i])
		}
	}
	info := st.Info()
	if info.Type != NF4 || info.BlockSize != 64 || info.Numel != 64 || info.Blocks != 1 || info.CodesBytes != 32 ||
		len(info.Shape) != 1 || info.Shape[0] != 64 || info.DoubleQuant {
		t.Fatalf("Info %+v", info)
	}
}

func TestQ4RoundTripAwkwardSizes(t *testing.T) {
	ctx := cpuContext(t)
	r := rand.New(rand.NewSource(6))
	for _, typ := range []Q4Type{NF4, FP4} {
		for _, dq := range []bool{false, true} {
			for _, n := range []int{1, 31, 33, 65537} {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				codes, st, err := Quantize4(ctx, x, nil, Q4Options{Type: typ, BlockSize: 128, DoubleQuant: dq})
				if err != nil {
					t.Fatalf("%v dq=%v n=%d: %v", typ, dq, n, err)
				}
				if len(codes) != (n+1)/2 {
					t.Fatalf("codes %d bytes", len(codes))
				}
				y, err := st.Dequantize(codes)
				if err != nil {
					t.Fatal(err)
				}
				scales, _ := st.Read(Q4AbsmaxDecoded)
				if len(scales) != (n+127)/128 {
					t.Fatalf("%d decoded scales for %d elements", len(scales), n)
				}
				for i := range x {
					// The largest gap between neighbouring codes is 0.5 (FP4) of the block scale.
					s := scales[i/128]
					if math.Abs(float64(y[i]-x[i])) > 0.26*float64(s)+1e-6 {
						t.Fatalf("%v dq=%v n=%d: element %d %v -> %v (scale %v)", typ, dq, n, i, x[i], y[i], s)
					}
				}
				if dq {
					if info := st.Info(); !info.DoubleQuant || info.NestedBlockSize != 256 {
						t.Fatalf("double quant info %+v", info)
					}
					a8, err := st.ReadBytes(Q4Absmax)
					if err != nil || len(a8) != len(scales) {
						t.Fatalf("8-bit absmax: %d values, %v", len(a8), err)
					}
				}
				st.Close()
			}
		}
	}
}

func TestQ4Linear(t *testing.T) {
	ctx := cpuContext(t)
	r := rand.New(rand.NewSource(8))
	n, k := 5, 64
	w := make([]float32, n*k)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	codes, st, err := Quantize4(ctx, w, []int{n, k}, Q4Options{BlockSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wq, _ := st.Dequantize(codes)
	bias := []float32{1, 2, 3, 4, 5}
	for _, m := range []int{1, 3, 9} { // 9 rows take the dequantize + GEMM path
		x := make([]float32, m*k)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		y, err := st.LinearForward(codes, x, bias)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < m; i++ {
			for o := 0; o < n; o++ {
				want := float64(bias[o])
				for j := 0; j < k; j++ {
					want += float64(x[i*k+j]) * float64(wq[o*k+j])
				}
				if math.Abs(float64(y[i*n+o])-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("m=%d y[%d,%d] = %v, want %v", m, i, o, y[i*n+o], want)
				}
			}
		}
		dy := make([]float32, m*n)
		for i := range dy {
			dy[i] = float32(r.NormFloat64())
		}
		dx, err := st.LinearBackwardInput(codes, dy)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < m; i++ {
			for j := 0; j < k; j++ {
				want := 0.0
				for o := 0; o < n; o++ {
					want += float64(dy[i*n+o]) * float64(wq[o*k+j])
				}
				if math.Abs(float64(dx[i*k+j])-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("dx[%d,%d] = %v, want %v", i, j, dx[i*k+j], want)
				}
			}
		}
	}

	// Errors name the argument and never panic.
	_, err = st.LinearForward(codes, make([]float32, k+1), nil)
	wantError(t, err, StatusShapeMismatch, "x has")
	_, err = st.LinearForward(codes, make([]float32, k), []float32{1})
	wantError(t, err, StatusShapeMismatch)
	_, err = st.Dequantize(codes[:3])
	wantError(t, err, StatusShapeMismatch)
	_, _, err = Quantize4(ctx, make([]float32, 10), []int{3, 3}, Q4Options{})
	wantError(t, err, StatusShapeMismatch, "src")
	_, _, err = Quantize4(ctx, make([]float32, 10), nil, Q4Options{BlockSize: 100})
	wantError(t, err, StatusInvalidArgument, "blocksize")
	_, _, err = Quantize4(ctx, nil, nil, Q4Options{})
	if err == nil {
		t.Fatal("quantizing no elements succeeded")
	}
	st.Close()
	_, err = st.Dequantize(codes)
	wantError(t, err, StatusInvalidArgument, "closed", "QuantState")
}

// littleBF16 reads little-endian bf16 bytes.
func littleBF16(b []byte) BFloat16 {
	v := make(BFloat16, len(b)/2)
	for i := range v {
		v[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return v
}

// bitsandbytes' own Linear4bit checkpoint (tests/quant/golden, make_bnb_golden.py): load each
// module's state, check it against bitsandbytes' outputs, requantize its bf16 weight to the same
// codes, and save everything back byte-identical.
func TestQ4BitsandbytesCheckpoint(t *testing.T) {
	dir := os.Getenv("RAI_Q4_GOLDEN_DIR")
	if dir == "" {
		t.Skip("RAI_Q4_GOLDEN_DIR is not set (meson test sets it)")
	}
	ctx := cpuContext(t)
	ck, err := OpenSafetensors(filepath.Join(dir, "bnb_linear4bit.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	io, err := OpenSafetensors(filepath.Join(dir, "bnb_linear4bit_io.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer io.Close()
	w, err := NewSafetensorsWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.SetMetadata("format", "pt"); err != nil {
		t.Fatal(err)
	}
	mods := []struct {
		prefix, short string
		typ           Q4Type
		dq            bool
		n, k          int
	}{
		{"model.layers.0.mlp.down_proj", "down_proj", NF4, true, 48, 64},
		{"model.layers.0.self_attn.q_proj", "q_proj", FP4, false, 40, 96},
	}
	for _, m := range mods {
		st, err := LoadQuantStateBnb(ctx, ck, m.prefix)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		info := st.Info()
		if info.Type != m.typ || info.BlockSize != 64 || info.DoubleQuant != m.dq || info.DType != BF16 ||
			len(info.Shape) != 2 || info.Shape[0] != int64(m.n) || info.Shape[1] != int64(m.k) {
			t.Fatalf("%s: state %+v", m.short, info)
		}
		codes, _, err := ck.Bytes(m.prefix + ".weight")
		if err != nil {
			t.Fatal(err)
		}
		biasBytes, _, err := ck.Bytes(m.prefix + ".bias")
		if err != nil {
			t.Fatal(err)
		}
		bias := littleBF16(biasBytes)
		x, _, err := io.Float32(m.short + ".x")
		if err != nil {
			t.Fatal(err)
		}
		yb, _, err := io.Float32(m.short + ".y")
		if err != nil {
			t.Fatal(err)
		}
		y, err := st.LinearForward(codes, x, bias.Float32())
		if err != nil {
			t.Fatal(err)
		}
		wd, err := st.Dequantize(codes)
		if err != nil {
			t.Fatal(err)
		}
		for r := 0; r < 3; r++ {
			for j := 0; j < m.n; j++ {
				mag := math.Abs(float64(bias.Float32()[j]))
				for k := 0; k < m.k; k++ {
					mag += math.Abs(float64(x[r*m.k+k]) * float64(wd[j*m.k+k]))
				}
				if d := math.Abs(float64(y[r*m.n+j] - yb[r*m.n+j])); d > 8e-3*mag {
					t.Fatalf("%s y[%d,%d] = %v, bitsandbytes %v", m.short, r, j, y[r*m.n+j], yb[r*m.n+j])
				}
			}
		}
		// The bf16 weight bitsandbytes quantized gives the same codes here.
		wb, _, err := io.Bytes(m.short + ".weight")
		if err != nil {
			t.Fatal(err)
		}
		mine := make([]byte, len(codes))
		st2, err := Quantize4Into(ctx, littleBF16(wb), []int{m.n, m.k}, mine, Q4Options{Type: m.typ, DoubleQuant: m.dq})
		if err != nil {
			t.Fatal(err)
		}
		st2.Close()
		// NF4: identical codes. FP4: bitsandbytes' CPU path rounds some elements differently
		// (tests/quant/test_q4_golden.cpp explains each case); allow those few.
		diff := 0
		for i := 0; i < 2*len(codes); i++ {
			if nibbleAt(mine, i) != nibbleAt(codes, i) {
				diff++
			}
		}
		if (m.typ == NF4 && diff != 0) || diff*100 > 2*len(codes) {
			t.Fatalf("%s: %d of %d codes of the bf16 weight differ from bitsandbytes'", m.short, diff, 2*len(codes))
		}
		if err := st.SaveBnb(w, m.prefix, codes); err != nil {
			t.Fatal(err)
		}
		if err := w.Add(m.prefix+".bias", bias, m.n); err != nil {
			t.Fatal(err)
		}
	}
	data, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSafetensors(data)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	want, _ := ck.Tensors()
	got, _ := back.Tensors()
	if len(want) != len(got) || len(want) != 12 {
		t.Fatalf("saved %d keys, bitsandbytes has %d", len(got), len(want))
	}
	for _, tw := range want {
		a, ta, err := ck.Bytes(tw.Name)
		if err != nil {
			t.Fatal(err)
		}
		b, tb, err := back.Bytes(tw.Name)
		if err != nil {
			t.Fatalf("key %s not saved: %v", tw.Name, err)
		}
		if !bytes.Equal(a, b) || ta.DType != tb.DType || fmt.Sprint(ta.Shape) != fmt.Sprint(tb.Shape) {
			t.Fatalf("key %s: saved %s %v, bitsandbytes %s %v (bytes equal: %v)", tw.Name, tb.DType, tb.Shape, ta.DType, ta.Shape, bytes.Equal(a, b))
		}
	}
	// Errors: a module that is not there, a closed file, a closed writer.
	_, err = LoadQuantStateBnb(ctx, ck, "model.nope")
	wantError(t, err, StatusFormat, "model.nope")
	_, st, err := Quantize4(ctx, make([]float32, 64), []int{8, 8}, Q4Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wantError(t, st.SaveBnb(w, "m", make([]byte, 31)), StatusShapeMismatch)
	w.Close()
	wantError(t, st.SaveBnb(w, "m", make([]byte, 32)), StatusInvalidArgument, "closed")
	back.Close()
	_, err = LoadQuantStateBnb(ctx, back, mods[0].prefix)
	wantError(t, err, StatusInvalidArgument, "closed")
}

// nibbleAt is the 4-bit code of element i (high nibble first).
func nibbleAt(codes []byte, i int) byte {
	if i%2 == 0 {
		return codes[i/2] >> 4
	}
	return codes[i/2] & 0xf
}

// float32Bytes is the little-endian bytes of v.
func float32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binenc.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

func bytesFloat32(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binenc.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// mustBuffer is a buffer on ctx holding b.
func mustBuffer(t *testing.T, ctx *Context, b []byte) *Buffer {
	t.Helper()
	buf, err := NewBuffer(ctx, len(b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { buf.Close() })
	if err := buf.Write(0, b); err != nil {
		t.Fatal(err)
	}
	return buf
}

// Buffers as tensors: the same results as Go slices, on a CPU context (and on CUDA when there
// is a device).
func TestQ4BufferTensors(t *testing.T) {
	devices := []string{"cpu", "cuda"}
	for _, dev := range devices {
		t.Run(dev, func(t *testing.T) {
			if dev == "cuda" && cudaCount(t) == 0 {
				t.Skip("no CUDA device")
			}
			host := cpuContext(t)
			ctx, err := NewContext(Device(dev), Strict())
			if err != nil {
				t.Fatal(err)
			}
			defer ctx.Close()
			r := rand.New(rand.NewSource(9))
			const out, in, m = 20, 64, 3
			w := randomGrad(r, out*in)
			x := randomGrad(r, m*in)
			codes, st, err := Quantize4(host, w, []int{out, in}, Q4Options{DoubleQuant: true})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			want, err := st.LinearForward(codes, x, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantW, _ := st.Dequantize(codes)

			wBuf := mustBuffer(t, ctx, float32Bytes(w))
			cBuf := mustBuffer(t, ctx, make([]byte, len(codes)))
			dst, err := Quantize4Into(ctx, wBuf.Tensor(F32, out, in), nil, cBuf.Tensor(U8), Q4Options{DoubleQuant: true})
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			if err := ctx.Synchronize(); err != nil {
				t.Fatal(err)
			}
			gotCodes := make([]byte, len(codes))
			if err := cBuf.Read(0, gotCodes); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(gotCodes, codes) {
				t.Fatal("codes quantized into a buffer differ from the slice ones")
			}
			xBuf := mustBuffer(t, ctx, float32Bytes(x))
			yBuf := mustBuffer(t, ctx, make([]byte, 4*m*out+12)) // larger than needed: a prefix view
			if err := dst.LinearForwardInto(cBuf.Tensor(U8), xBuf.Tensor(F32), nil, yBuf.Tensor(F32, m, out)); err != nil {
				t.Fatal(err)
			}
			_ = ctx.Synchronize()
			yb := make([]byte, 4*m*out)
			_ = yBuf.Read(0, yb)
			for i, v := range bytesFloat32(yb) {
				if v != want[i] {
					t.Fatalf("y[%d] from buffers = %v, from slices %v", i, v, want[i])
				}
			}
			dqBuf := mustBuffer(t, ctx, make([]byte, 4*out*in))
			if err := dst.DequantizeInto(cBuf.Tensor(U8), dqBuf.Tensor(F32)); err != nil {
				t.Fatal(err)
			}
			_ = ctx.Synchronize()
			wb := make([]byte, 4*out*in)
			_ = dqBuf.Read(0, wb)
			for i, v := range bytesFloat32(wb) {
				if v != wantW[i] {
					t.Fatalf("dequantized[%d] from buffers = %v, from slices %v", i, v, wantW[i])
				}
			}
			// Errors name the argument.
			wantError(t, dst.DequantizeInto(cBuf.Tensor(U8), dqBuf.Tensor(F32, out*in+1)), StatusShapeMismatch, "dst", "bytes")
			wantError(t, dst.DequantizeInto(cBuf.Tensor(U8), dqBuf.Tensor(DType{Code: 2, Bits: 24})), StatusDTypeMismatch, "dst")
			wantError(t, dst.DequantizeInto(cBuf.Tensor(U8), BufferTensor{DType: F32}), StatusInvalidArgument, "dst")
			wantError(t, dst.LinearForwardInto(cBuf.Tensor(U8), xBuf.Tensor(F32, m, in+1), nil, yBuf.Tensor(F32)), StatusShapeMismatch, "x")
			if dev == "cuda" { // a host slice on a CUDA context is refused by librai
				if err := dst.DequantizeInto(codes, dqBuf.Tensor(F32)); err == nil {
					t.Fatal("host codes on a CUDA context: no error")
				}
			}
			dqBuf.Close()
			wantError(t, dst.DequantizeInto(cBuf.Tensor(U8), dqBuf.Tensor(F32, out*in)), StatusInvalidArgument, "dst", "closed rai Buffer")
		})
	}
}
