package rai

// GGUF files (llama.cpp's model format, version 3): a writer and a validating reader (rai.h
// section "files: safetensors, GGUF", docs/bitnet.md).

import (
	"bytes"
	binenc "encoding/binary"
	"runtime"

	"rai.invalid/rai/native"
)

// GGUFType is a metadata value type (rai_gguf_type values, GGUF's numbers).
type GGUFType int32

const (
	GGUFUint8   GGUFType = 0
	GGUFInt8    GGUFType = 1
	GGUFUint16  GGUFType = 2
	GGUFInt16   GGUFType = 3
	GGUFUint32  GGUFType = 4
	GGUFInt32   GGUFType = 5
	GGUFFloat32 GGUFType = 6
	GGUFBool    GGUFType = 7
	GGUFString  GGUFType = 8
	GGUFArray   GGUFType = 9
	GGUFUint64  GGUFType = 10
	GGUFInt64   GGUFType = 11
	GGUFFloat64 GGUFType = 12
)

// GGMLType is a tensor storage type (rai_ggml_type values, ggml's numbers).
type GGMLType int32

const (
	GGMLF32   GGMLType = 0
	GGMLF16   GGMLType = 1
	GGMLI8    GGMLType = 24
	GGMLI16   GGMLType = 25
	GGMLI32   GGMLType = 26
	GGMLI64   GGMLType = 27
	GGMLF64   GGMLType = 28
	GGMLBF16  GGMLType = 30
	GGMLTQ1_0 GGMLType = 34
	GGMLTQ2_0 GGMLType = 35
)

// ggufScalar encodes a Go numeric or bool value (or a slice of one type) as its GGUF type and
// little-endian bytes.
func ggufScalar(v interface{}) (GGUFType, []byte, int, bool) {
	var buf bytes.Buffer
	var t GGUFType
	n := 1
	switch x := v.(type) {
	case uint8:
		t = GGUFUint8
	case int8:
		t = GGUFInt8
	case uint16:
		t = GGUFUint16
	case int16:
		t = GGUFInt16
	case uint32:
		t = GGUFUint32
	case int32:
		t = GGUFInt32
	case float32:
		t = GGUFFloat32
	case uint64:
		t = GGUFUint64
	case int64:
		t = GGUFInt64
	case float64:
		t = GGUFFloat64
	case bool:
		t = GGUFBool
		v = b2u8(x)
	case []uint8:
		t, n = GGUFUint8, len(x)
	case []int8:
		t, n = GGUFInt8, len(x)
	case []uint16:
		t, n = GGUFUint16, len(x)
	case []int16:
		t, n = GGUFInt16, len(x)
	case []uint32:
		t, n = GGUFUint32, len(x)
	case []int32:
		t, n = GGUFInt32, len(x)
	case []float32:
		t, n = GGUFFloat32, len(x)
	case []uint64:
		t, n = GGUFUint64, len(x)
	case []int64:
		t, n = GGUFInt64, len(x)
	case []float64:
		t, n = GGUFFloat64, len(x)
	case []bool:
		t, n = GGUFBool, len(x)
		u := make([]uint8, len(x))
		for i, b := range x {
			u[i] = b2u8(b)
		}
		v = u
	default:
		return 0, nil, 0, false
	}
	binenc.Write(&buf, binenc.LittleEndian, v)
	return t, buf.Bytes(), n, true
}

func b2u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// GGUFWriter collects metadata and tensors (copied), then writes the file in one go.
type GGUFWriter struct {
	handle
}

func ggwp(p uintptr) native.Struct_SS_rai_gguf_writer {
	return native.SwigcptrStruct_SS_rai_gguf_writer(p)
}

// NewGGUFWriter makes an empty writer.
func NewGGUFWriter() (*GGUFWriter, error) {
	out := native.New_rai_gguf_writer_pp()
	defer native.Delete_rai_gguf_writer_pp(out)
	if err := call(func() status { return native.Rai_gguf_writer_create(out) }); err != nil {
		return nil, err
	}
	w := &GGUFWriter{}
	w.init("GGUFWriter", native.Rai_gguf_writer_pp_value(out).Swigcptr(), func(p uintptr) { native.Rai_gguf_writer_destroy(ggwp(p)) })
	runtime.SetFinalizer(w, (*GGUFWriter).Close)
	return w, nil
}

// Close frees the writer. Closing again does nothing.
func (w *GGUFWriter) Close() error {
	if w != nil {
		w.close()
	}
	return nil
}

func (w *GGUFWriter) use(fn func(p native.Struct_SS_rai_gguf_writer) error) error {
	if w == nil {
		return newError(StatusInvalidArgument, "writer is nil")
	}
	return w.handle.use1("writer", func(p uintptr) error { return fn(ggwp(p)) })
}

// AddKV adds a metadata entry: value is a string, a []string, a Go numeric or bool value (its
// type gives the GGUF type: uint32 is UINT32, ...) or a slice of one (an ARRAY). Keys are
// unique; "general.alignment" (uint32, a power of two) sets the data alignment.
func (w *GGUFWriter) AddKV(key string, value interface{}) error {
	return w.use(func(p native.Struct_SS_rai_gguf_writer) error {
		switch v := value.(type) {
		case string:
			return call(func() status { return native.Rai_gguf_writer_add_kv_string(p, key, v) })
		case []string:
			return withNames(v, func(arr *string) error {
				return call(func() status { return native.Rai_gguf_writer_add_kv_string_array(p, key, arr, int64(len(v))) })
			})
		}
		t, raw, n, ok := ggufScalar(value)
		if !ok {
			return newError(StatusInvalidArgument, "value: unsupported type %T for key %q", value, key)
		}
		cv, err := cBytesCopy(raw) // rai reads it through a const void * without a size
		if err != nil {
			return err
		}
		defer cFree(cv)
		isArray := false
		switch value.(type) {
		case []uint8, []int8, []uint16, []int16, []uint32, []int32, []float32, []uint64, []int64, []float64, []bool:
			isArray = true
		}
		if isArray {
			return call(func() status {
				return native.Rai_gguf_writer_add_kv_array(p, key, int(t), uintptr(cv), int64(n))
			})
		}
		return call(func() status { return native.Rai_gguf_writer_add_kv(p, key, int(t), uintptr(cv)) })
	})
}

// AddTensor copies a tensor (1 to 4 dimensions, row-major shape; none: 1-D) stored as typ:
// []float32 as F32, F16, BF16, TQ1_0 or TQ2_0 (lossy, last dimension % 256 == 0); []int8,
// []int32, []int64, []float64 as I8, I32, I64, F64.
func (w *GGUFWriter) AddTensor(name string, data interface{}, typ GGMLType, shape ...int) error {
	t, err := view("tensor", data, shape...)
	if err != nil {
		return err
	}
	return w.use(func(p native.Struct_SS_rai_gguf_writer) error {
		return withTensors([]*hostTensor{t}, func(d []native.Rai_tensor) error {
			return call(func() status { return native.Rai_gguf_writer_add_tensor(p, name, d[0], int(typ)) })
		})
	})
}

// AddTernary stores a ternary weight losslessly as TQ1_0 or TQ2_0: trits [rows, cols]
// (cols % 256 == 0) and scales in a BitNet scale shape (scalesShape, e.g. [1] per tensor or
// [rows, 1] per row), constant within each 256-column block. exactScales refuses scales that are
// not exactly an f16 (StatusOutOfRange) instead of rounding them.
func (w *GGUFWriter) AddTernary(name string, typ GGMLType, trits []int8, rows, cols int, scales []float32,
	scalesShape []int, exactScales bool) error {
	ts, err := views(spec("trits", trits, rows, cols), spec("scales", scales, scalesShape...))
	if err != nil {
		return err
	}
	return w.use(func(p native.Struct_SS_rai_gguf_writer) error {
		return withTensors(ts, func(d []native.Rai_tensor) error {
			return call(func() status {
				return native.Rai_gguf_writer_add_ternary(p, name, int(typ), d[0], d[1], b2u(exactScales, uint(native.RAI_GGUF_EXACT_SCALES)))
			})
		})
	})
}

// Write writes the file atomically: on error nothing is left at path.
func (w *GGUFWriter) Write(path string) error {
	return w.use(func(p native.Struct_SS_rai_gguf_writer) error {
		return call(func() status { return native.Rai_gguf_writer_write(p, path) })
	})
}

// GGUFInfo describes a GGUF file.
type GGUFInfo struct {
	Version     uint32
	KVCount     uint64
	TensorCount uint64
	Alignment   uint64
	DataOffset  uint64
	FileSize    uint64
}

// GGUFKV describes a metadata entry.
type GGUFKV struct {
	Key       string
	Type      GGUFType
	ArrayType GGUFType // the element type of an ARRAY, else -1
	Count     uint64   // elements of an array, else 1
}

// GGUFTensor describes a tensor of a GGUF file.
type GGUFTensor struct {
	Name   string
	Type   GGMLType
	Shape  []int64 // row-major, outermost first
	Offset uint64  // file offset of the data
	NBytes uint64
}

// GGUFReader is an open GGUF file whose whole header was validated on open; tensor data is read
// on demand. Its methods return copies.
type GGUFReader struct {
	handle
}

func ggrp(p uintptr) native.Struct_SS_rai_gguf_reader {
	return native.SwigcptrStruct_SS_rai_gguf_reader(p)
}

// OpenGGUF opens and validates a file (StatusFormat naming what and where when malformed,
// StatusUnsupported for big-endian files and versions other than 2 and 3).
func OpenGGUF(path string) (*GGUFReader, error) {
	out := native.New_rai_gguf_reader_pp()
	defer native.Delete_rai_gguf_reader_pp(out)
	if err := call(func() status { return native.Rai_gguf_reader_open(path, out) }); err != nil {
		return nil, err
	}
	r := &GGUFReader{}
	r.init("GGUFReader", native.Rai_gguf_reader_pp_value(out).Swigcptr(), func(p uintptr) { native.Rai_gguf_reader_destroy(ggrp(p)) })
	runtime.SetFinalizer(r, (*GGUFReader).Close)
	return r, nil
}

// Close releases the file. Closing again does nothing.
func (r *GGUFReader) Close() error {
	if r != nil {
		r.close()
	}
	return nil
}

func (r *GGUFReader) use(fn func(p native.Struct_SS_rai_gguf_reader) error) error {
	if r == nil {
		return newError(StatusInvalidArgument, "reader is nil")
	}
	return r.handle.use1("reader", func(p uintptr) error { return fn(ggrp(p)) })
}

// Info describes the file.
func (r *GGUFReader) Info() (GGUFInfo, error) {
	var g GGUFInfo
	err := r.use(func(p native.Struct_SS_rai_gguf_reader) error {
		in := native.NewRai_gguf_file_info()
		defer native.DeleteRai_gguf_file_info(in)
		if err := call(func() status { return native.Rai_gguf_reader_get_info(p, in) }); err != nil {
			return err
		}
		g = GGUFInfo{Version: uint32(in.GetVersion()), KVCount: in.GetKv_count(), TensorCount: in.GetTensor_count(),
			Alignment: in.GetAlignment(), DataOffset: in.GetData_offset(), FileSize: in.GetFile_size()}
		return nil
	})
	return g, err
}

func (r *GGUFReader) kv(p native.Struct_SS_rai_gguf_reader, i int) (GGUFKV, uintptr, error) {
	in := native.NewRai_gguf_kv_info()
	defer native.DeleteRai_gguf_kv_info(in)
	if err := call(func() status { return native.Rai_gguf_reader_kv(p, int64(i), in) }); err != nil {
		return GGUFKV{}, 0, err
	}
	return GGUFKV{Key: in.GetKey(), Type: GGUFType(in.GetXtype()), ArrayType: GGUFType(in.GetArray_type()),
		Count: in.GetCount()}, in.GetData(), nil
}

// KVs lists the metadata entries in file order.
func (r *GGUFReader) KVs() ([]GGUFKV, error) {
	var kvs []GGUFKV
	err := r.use(func(p native.Struct_SS_rai_gguf_reader) error {
		in := native.NewRai_gguf_file_info()
		defer native.DeleteRai_gguf_file_info(in)
		if err := call(func() status { return native.Rai_gguf_reader_get_info(p, in) }); err != nil {
			return err
		}
		for i := 0; i < int(in.GetKv_count()); i++ {
			kv, _, err := r.kv(p, i)
			if err != nil {
				return err
			}
			kvs = append(kvs, kv)
		}
		return nil
	})
	return kvs, err
}

var ggufSizes = map[GGUFType]int{GGUFUint8: 1, GGUFInt8: 1, GGUFBool: 1, GGUFUint16: 2, GGUFInt16: 2,
	GGUFUint32: 4, GGUFInt32: 4, GGUFFloat32: 4, GGUFUint64: 8, GGUFInt64: 8, GGUFFloat64: 8}

// decodeGGUF turns n little-endian values of type t into a Go slice ([]bool for BOOL).
func decodeGGUF(t GGUFType, raw []byte, n int) interface{} {
	var out interface{}
	switch t {
	case GGUFUint8:
		out = make([]uint8, n)
	case GGUFInt8:
		out = make([]int8, n)
	case GGUFBool:
		b := make([]bool, n)
		for i := range b {
			b[i] = raw[i] != 0
		}
		return b
	case GGUFUint16:
		out = make([]uint16, n)
	case GGUFInt16:
		out = make([]int16, n)
	case GGUFUint32:
		out = make([]uint32, n)
	case GGUFInt32:
		out = make([]int32, n)
	case GGUFFloat32:
		out = make([]float32, n)
	case GGUFUint64:
		out = make([]uint64, n)
	case GGUFInt64:
		out = make([]int64, n)
	case GGUFFloat64:
		out = make([]float64, n)
	default:
		return nil
	}
	binenc.Read(bytes.NewReader(raw), binenc.LittleEndian, out)
	return out
}

// first is element 0 of a slice made by decodeGGUF.
func first(s interface{}) interface{} {
	switch v := s.(type) {
	case []uint8:
		return v[0]
	case []int8:
		return v[0]
	case []bool:
		return v[0]
	case []uint16:
		return v[0]
	case []int16:
		return v[0]
	case []uint32:
		return v[0]
	case []int32:
		return v[0]
	case []float32:
		return v[0]
	case []uint64:
		return v[0]
	case []int64:
		return v[0]
	case []float64:
		return v[0]
	}
	return nil
}

// Value is metadata entry key decoded: a string, a []string, a Go numeric value of the entry's
// type (uint32 for UINT32, bool for BOOL, ...) or a slice of one for an ARRAY.
func (r *GGUFReader) Value(key string) (interface{}, error) {
	var val interface{}
	err := r.use(func(p native.Struct_SS_rai_gguf_reader) error {
		var idx int64
		if err := call(func() status { return native.Rai_gguf_reader_find_kv(p, key, &idx) }); err != nil {
			return err
		}
		if idx < 0 {
			return newError(StatusInvalidArgument, "key: no metadata %q in the file", key)
		}
		kv, data, err := r.kv(p, int(idx))
		if err != nil {
			return err
		}
		elem := kv.Type
		if kv.Type == GGUFArray {
			elem = kv.ArrayType
		}
		if elem == GGUFString {
			ss := make([]string, kv.Count)
			cell := native.New_const_char_pp()
			defer native.Delete_const_char_pp(cell)
			for i := range ss {
				var n int64
				if err := call(func() status { return native.Rai_gguf_reader_kv_string(p, idx, int64(i), cell, &n) }); err != nil {
					return err
				}
				ss[i] = string(copyFromC(cellPointer(cell), int(n)))
			}
			if kv.Type == GGUFString {
				val = ss[0]
			} else {
				val = ss
			}
			return nil
		}
		size, ok := ggufSizes[elem]
		if !ok {
			return newError(StatusUnsupported, "key %q: value type %d cannot be decoded", key, elem)
		}
		vals := decodeGGUF(elem, copyFromC(data, size*int(kv.Count)), int(kv.Count))
		if kv.Type == GGUFArray {
			val = vals
		} else {
			val = first(vals)
		}
		return nil
	})
	return val, err
}

func (r *GGUFReader) tensor(p native.Struct_SS_rai_gguf_reader, i int) (GGUFTensor, error) {
	in := native.NewRai_gguf_tensor_info()
	defer native.DeleteRai_gguf_tensor_info(in)
	if err := call(func() status { return native.Rai_gguf_reader_tensor(p, int64(i), in) }); err != nil {
		return GGUFTensor{}, err
	}
	shape := make([]int64, in.GetNdim())
	cshape := in.GetShape()
	for d := range shape {
		shape[d] = *(*int64)(unsafeAdd(cshape, d))
	}
	return GGUFTensor{Name: in.GetName(), Type: GGMLType(in.GetGgml_type()), Shape: shape, Offset: in.GetOffset(),
		NBytes: in.GetNbytes()}, nil
}

// Tensors describes every tensor in file order.
func (r *GGUFReader) Tensors() ([]GGUFTensor, error) {
	var ts []GGUFTensor
	err := r.use(func(p native.Struct_SS_rai_gguf_reader) error {
		in := native.NewRai_gguf_file_info()
		defer native.DeleteRai_gguf_file_info(in)
		if err := call(func() status { return native.Rai_gguf_reader_get_info(p, in) }); err != nil {
			return err
		}
		for i := 0; i < int(in.GetTensor_count()); i++ {
			t, err := r.tensor(p, i)
			if err != nil {
				return err
			}
			ts = append(ts, t)
		}
		return nil
	})
	return ts, err
}

// find runs fn with tensor name's index and description.
func (r *GGUFReader) find(name string, fn func(p native.Struct_SS_rai_gguf_reader, idx int64, t GGUFTensor) error) error {
	return r.use(func(p native.Struct_SS_rai_gguf_reader) error {
		var idx int64
		if err := call(func() status { return native.Rai_gguf_reader_find_tensor(p, name, &idx) }); err != nil {
			return err
		}
		if idx < 0 {
			return newError(StatusInvalidArgument, "name: no tensor %q in the file", name)
		}
		t, err := r.tensor(p, int(idx))
		if err != nil {
			return err
		}
		return fn(p, idx, t)
	})
}

// ReadRaw is tensor name's stored bytes.
func (r *GGUFReader) ReadRaw(name string) ([]byte, error) {
	var b []byte
	err := r.find(name, func(p native.Struct_SS_rai_gguf_reader, idx int64, t GGUFTensor) error {
		var err error
		b, err = sized(int(t.NBytes), func(out []byte, n *int64) status { return native.Rai_gguf_reader_read_raw(p, idx, out, n) })
		return err
	})
	return b, err
}

// ReadFloat32 decodes tensor name (F32, F16, BF16, TQ1_0 or TQ2_0, as llama.cpp dequantizes) to
// float32 values and returns its shape.
func (r *GGUFReader) ReadFloat32(name string) ([]float32, []int64, error) {
	var v []float32
	var shape []int64
	err := r.find(name, func(p native.Struct_SS_rai_gguf_reader, idx int64, t GGUFTensor) error {
		dims := make([]int, len(t.Shape))
		n := 1
		for i, d := range t.Shape {
			dims[i] = int(d)
			n *= int(d)
		}
		v, shape = make([]float32, n), t.Shape
		dst, _ := view("dst", v, dims...)
		return withTensors([]*hostTensor{dst}, func(d []native.Rai_tensor) error {
			return call(func() status { return native.Rai_gguf_reader_read_tensor(p, idx, d[0]) })
		})
	})
	if err != nil {
		return nil, nil, err
	}
	return v, shape, nil
}

// ReadTernary reads a TQ1_0 / TQ2_0 tensor losslessly: trits [rows, cols] (cols the innermost
// dimension) and its block scales [rows, cols/256].
func (r *GGUFReader) ReadTernary(name string) (trits []int8, scales []float32, rows, cols int, err error) {
	err = r.find(name, func(p native.Struct_SS_rai_gguf_reader, idx int64, t GGUFTensor) error {
		if len(t.Shape) == 0 {
			return newError(StatusShapeMismatch, "name: tensor %q has no dimensions", name)
		}
		cols = int(t.Shape[len(t.Shape)-1])
		rows = 1
		for _, d := range t.Shape[:len(t.Shape)-1] {
			rows *= int(d)
		}
		trits, scales = make([]int8, rows*cols), make([]float32, rows*(cols/256))
		ts, err := views(spec("trits", trits, rows, cols), spec("scales", scales, rows, cols/256))
		if err != nil {
			return err
		}
		return withTensors(ts, func(d []native.Rai_tensor) error {
			return call(func() status { return native.Rai_gguf_reader_read_ternary(p, idx, d[0], d[1]) })
		})
	})
	return trits, scales, rows, cols, err
}
