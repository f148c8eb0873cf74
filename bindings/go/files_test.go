package rai

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestSafetensorsRoundTrip(t *testing.T) {
	w, err := NewSafetensorsWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	f32 := []float32{1.5, -2, 3.25, float32(math.Inf(1)), 0, -0.125, 7, 8, 9, 10, 11, 12}
	i8 := []int8{-128, 0, 127}
	i64 := []int64{1 << 40, -3}
	for _, err := range []error{
		w.Add("weights", f32, 3, 4), w.Add("codes", i8), w.Add("big", i64, 2, 1),
		w.AddRaw("mask", "BOOL", []int64{2, 2}, []byte{1, 0, 0, 1}),
		w.SetMetadata("format", "pt"), w.SetMetadata("author", "rai-go"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	blob, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := w.Save(path); err != nil {
		t.Fatal(err)
	}
	if onDisk, _ := os.ReadFile(path); string(onDisk) != string(blob) {
		t.Fatal("Save and Bytes differ")
	}
	fromMem, err := ParseSafetensors(blob)
	if err != nil {
		t.Fatal(err)
	}
	defer fromMem.Close()
	fromFile, err := OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fromFile.Close()
	for _, f := range []*Safetensors{fromMem, fromFile} {
		if n, err := f.Len(); err != nil || n != 4 {
			t.Fatalf("Len = %d, %v", n, err)
		}
		ts, err := f.Tensors()
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]SafetensorsTensor{}
		for _, x := range ts {
			byName[x.Name] = x
		}
		if x := byName["weights"]; x.DType != "F32" || !reflect.DeepEqual(x.Shape, []int64{3, 4}) || x.NBytes != 48 {
			t.Fatalf("weights: %+v", x)
		}
		if x := byName["big"]; x.DType != "I64" || !reflect.DeepEqual(x.Shape, []int64{2, 1}) {
			t.Fatalf("big: %+v", x)
		}
		got, shape, err := f.Float32("weights")
		if err != nil || !reflect.DeepEqual(shape, []int64{3, 4}) {
			t.Fatalf("Float32: %v %v", shape, err)
		}
		for i := range f32 {
			if math.Float32bits(got[i]) != math.Float32bits(f32[i]) {
				t.Fatalf("weights[%d] = %v, want %v", i, got[i], f32[i])
			}
		}
		b, info, err := f.Bytes("codes")
		if err != nil || info.DType != "I8" || len(b) != 3 || int8(b[0]) != -128 || int8(b[2]) != 127 {
			t.Fatalf("codes: %v %+v %v", b, info, err)
		}
		if b, _, _ := f.Bytes("mask"); !reflect.DeepEqual(b, []byte{1, 0, 0, 1}) {
			t.Fatalf("mask %v", b)
		}
		md, err := f.Metadata()
		if err != nil || !reflect.DeepEqual(md, map[string]string{"format": "pt", "author": "rai-go"}) {
			t.Fatalf("Metadata = %v, %v", md, err)
		}
		_, _, err = f.Float32("codes")
		wantError(t, err, StatusDTypeMismatch, "codes")
		_, _, err = f.Bytes("absent")
		wantError(t, err, StatusInvalidArgument, "absent")
	}
}

func TestSafetensorsErrors(t *testing.T) {
	_, err := ParseSafetensors([]byte("not a safetensors file at all"))
	wantError(t, err, StatusFormat)
	_, err = OpenSafetensors(filepath.Join(t.TempDir(), "missing.safetensors"))
	wantError(t, err, StatusIO)
	w, _ := NewSafetensorsWriter()
	if err := w.Add("a", []float32{1}); err != nil {
		t.Fatal(err)
	}
	wantError(t, w.Add("a", []float32{2}), StatusInvalidArgument)
	wantError(t, w.Add("b", []float32{1, 2, 3}, 2, 2), StatusShapeMismatch, "data")
	wantError(t, w.AddRaw("c", "BOOL", []int64{3}, []byte{1}), StatusInvalidArgument)
	wantError(t, w.Save(filepath.Join(t.TempDir(), "no", "such", "dir", "x.safetensors")), StatusIO)
	w.Close()
	w.Close()
	wantError(t, w.SetMetadata("k", "v"), StatusInvalidArgument, "writer: use of a closed rai SafetensorsWriter")
	f, _ := ParseSafetensors(mustSafetensorsBytes(t))
	f.Close()
	_, err = f.Tensors()
	wantError(t, err, StatusInvalidArgument, "file: use of a closed rai Safetensors")
	var nilf *Safetensors
	_, err = nilf.Len()
	wantError(t, err, StatusInvalidArgument, "file is nil")
}

func mustSafetensorsBytes(t *testing.T) []byte {
	w, _ := NewSafetensorsWriter()
	defer w.Close()
	w.Add("x", []float32{1, 2})
	b, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGGUFRoundTrip(t *testing.T) {
	w, err := NewGGUFWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	vals := map[string]interface{}{
		"general.architecture": "bitnet", "general.alignment": uint32(64), "x.f32": float32(0.5),
		"x.i64": int64(-1 << 40), "x.flag": true, "x.u8": uint8(200), "x.f64": 2.25,
		"x.names": []string{"a", "bc", ""}, "x.ids": []int32{3, -4, 5}, "x.bits": []bool{true, false},
	}
	for _, k := range []string{"general.architecture", "general.alignment", "x.f32", "x.i64", "x.flag", "x.u8", "x.f64",
		"x.names", "x.ids", "x.bits"} {
		if err := w.AddKV(k, vals[k]); err != nil {
			t.Fatalf("AddKV(%s): %v", k, err)
		}
	}
	f32 := []float32{1, -2, 0.5, 3, 4, -0.25}
	if err := w.AddTensor("dense", f32, GGMLF32, 2, 3); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("half", f32, GGMLF16, 3, 2); err != nil {
		t.Fatal(err)
	}
	const rows, cols = 2, 256
	trits := make([]int8, rows*cols)
	for i := range trits {
		trits[i] = int8(i%3 - 1)
	}
	if err := w.AddTernary("tern", GGMLTQ2_0, trits, rows, cols, []float32{0.5, 2}, []int{rows, 1}, true); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := w.Write(path); err != nil {
		t.Fatal(err)
	}
	r, err := OpenGGUF(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	info, err := r.Info()
	if err != nil || info.Version != 3 || info.KVCount != 10 || info.TensorCount != 3 || info.Alignment != 64 {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	for k, want := range vals {
		got, err := r.Value(k)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Value(%s) = %#v, %v; want %#v", k, got, err, want)
		}
	}
	kvs, _ := r.KVs()
	if kvs[0].Key != "general.architecture" || kvs[0].Type != GGUFString || kvs[8].Type != GGUFArray || kvs[8].ArrayType != GGUFInt32 || kvs[8].Count != 3 {
		t.Fatalf("KVs %+v", kvs)
	}
	ts, err := r.Tensors()
	if err != nil || len(ts) != 3 || ts[0].Name != "dense" || !reflect.DeepEqual(ts[1].Shape, []int64{3, 2}) || ts[2].Type != GGMLTQ2_0 {
		t.Fatalf("Tensors %+v, %v", ts, err)
	}
	for _, name := range []string{"dense", "half"} { // every value is exact in f16
		got, _, err := r.ReadFloat32(name)
		if err != nil || !reflect.DeepEqual(got, f32) {
			t.Fatalf("ReadFloat32(%s) = %v, %v", name, got, err)
		}
	}
	if raw, err := r.ReadRaw("half"); err != nil || len(raw) != 12 {
		t.Fatalf("ReadRaw = %d bytes, %v", len(raw), err)
	}
	gotTrits, scales, gr, gc, err := r.ReadTernary("tern")
	if err != nil || gr != rows || gc != cols || !reflect.DeepEqual(gotTrits, trits) || !reflect.DeepEqual(scales, []float32{0.5, 2}) {
		t.Fatalf("ReadTernary: %d x %d, scales %v, %v", gr, gc, scales, err)
	}
	deq, _, err := r.ReadFloat32("tern")
	if err != nil || deq[0] != -0.5 || deq[cols+1] != float32(trits[cols+1])*2 {
		t.Fatalf("dequantized ternary %v %v, %v", deq[0], deq[cols+1], err)
	}
	_, err = r.ReadRaw("absent")
	wantError(t, err, StatusInvalidArgument, "absent")
	_, err = r.Value("absent.key")
	wantError(t, err, StatusInvalidArgument, "absent.key")
}

func TestGGUFErrors(t *testing.T) {
	w, _ := NewGGUFWriter()
	if err := w.AddKV("k", uint32(1)); err != nil {
		t.Fatal(err)
	}
	wantError(t, w.AddKV("k", uint32(2)), StatusInvalidArgument)
	wantError(t, w.AddKV("m", struct{}{}), StatusInvalidArgument, "value")
	wantError(t, w.AddTensor("t", []float32{1, 2, 3}, GGMLTQ2_0, 1, 3), StatusShapeMismatch, "256")
	wantError(t, w.AddTernary("u", GGMLTQ1_0, make([]int8, 256), 1, 256, []float32{0.1}, []int{1}, true), StatusOutOfRange)
	w.Close()
	wantError(t, w.Write(filepath.Join(t.TempDir(), "x.gguf")), StatusInvalidArgument, "writer: use of a closed rai GGUFWriter")

	bad := filepath.Join(t.TempDir(), "bad.gguf")
	os.WriteFile(bad, mustSafetensorsBytes(t), 0o644)
	_, err := OpenGGUF(bad)
	wantError(t, err, StatusFormat)
	_, err = OpenGGUF(filepath.Join(t.TempDir(), "missing.gguf"))
	wantError(t, err, StatusIO)
	var nilr *GGUFReader
	_, err = nilr.Info()
	wantError(t, err, StatusInvalidArgument, "reader is nil")
}
