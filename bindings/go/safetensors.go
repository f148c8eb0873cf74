package rai

// safetensors files: a validating reader and a writer (rai.h section "files: safetensors,
// GGUF").

import (
	binenc "encoding/binary"
	"math"
	"runtime"

	"rai.invalid/rai/native"
)

// SafetensorsTensor describes one tensor of a safetensors file.
type SafetensorsTensor struct {
	Name       string
	DType      string // safetensors dtype: "F32", "BF16", "U8", "BOOL", ...
	Shape      []int64
	NBytes     uint64
	DataOffset uint64 // from the start of the data buffer
}

// Safetensors is an open safetensors file, checked in full when opened (memory-mapped for
// files). Its methods return copies, so nothing refers to the file after Close.
type Safetensors struct {
	handle
}

func stp(p uintptr) native.Struct_SS_rai_safetensors {
	return native.SwigcptrStruct_SS_rai_safetensors(p)
}

func wrapSafetensors(open func(out native.Struct_SS_rai_safetensors) status) (*Safetensors, error) {
	out := native.New_rai_safetensors_pp()
	defer native.Delete_rai_safetensors_pp(out)
	if err := call(func() status { return open(out) }); err != nil {
		return nil, err
	}
	f := &Safetensors{}
	f.init("Safetensors", native.Rai_safetensors_pp_value(out).Swigcptr(), func(p uintptr) { native.Rai_safetensors_destroy(stp(p)) })
	runtime.SetFinalizer(f, (*Safetensors).Close)
	return f, nil
}

// OpenSafetensors opens and validates a file (StatusIO when unreadable, StatusFormat naming the
// tensor and field when malformed).
func OpenSafetensors(path string) (*Safetensors, error) {
	return wrapSafetensors(func(out native.Struct_SS_rai_safetensors) status { return native.Rai_safetensors_open(path, out) })
}

// ParseSafetensors reads a file's bytes (copied).
func ParseSafetensors(data []byte) (*Safetensors, error) {
	return wrapSafetensors(func(out native.Struct_SS_rai_safetensors) status {
		return native.Rai_safetensors_open_memory(data, out)
	})
}

// Close releases the file. Closing again does nothing.
func (f *Safetensors) Close() error {
	if f != nil {
		f.close()
	}
	return nil
}

func (f *Safetensors) use(fn func(p native.Struct_SS_rai_safetensors) error) error {
	if f == nil {
		return newError(StatusInvalidArgument, "file is nil")
	}
	return f.handle.use1("file", func(p uintptr) error { return fn(stp(p)) })
}

// Len is the number of tensors.
func (f *Safetensors) Len() (int, error) {
	var n int64
	err := f.use(func(p native.Struct_SS_rai_safetensors) error {
		return call(func() status { return native.Rai_safetensors_count(p, &n) })
	})
	return int(n), err
}

// info reads tensor i's description and the address of its bytes.
func (f *Safetensors) info(p native.Struct_SS_rai_safetensors, i int) (SafetensorsTensor, uintptr, error) {
	in := native.NewRai_safetensors_tensor_info()
	defer native.DeleteRai_safetensors_tensor_info(in)
	if err := call(func() status { return native.Rai_safetensors_get_info(p, int64(i), in) }); err != nil {
		return SafetensorsTensor{}, 0, err
	}
	shape := make([]int64, in.GetNdim())
	cshape := in.GetShape()
	for d := range shape {
		shape[d] = *(*int64)(unsafeAdd(cshape, d))
	}
	return SafetensorsTensor{Name: in.GetName(), DType: in.GetDtype_name(), Shape: shape, NBytes: in.GetNbytes(),
		DataOffset: in.GetData_offset()}, in.GetData(), nil
}

// Tensors describes every tensor in file order.
func (f *Safetensors) Tensors() ([]SafetensorsTensor, error) {
	var ts []SafetensorsTensor
	err := f.use(func(p native.Struct_SS_rai_safetensors) error {
		var n int64
		if err := call(func() status { return native.Rai_safetensors_count(p, &n) }); err != nil {
			return err
		}
		for i := 0; i < int(n); i++ {
			t, _, err := f.info(p, i)
			if err != nil {
				return err
			}
			ts = append(ts, t)
		}
		return nil
	})
	return ts, err
}

// Bytes is a copy of tensor name's stored little-endian bytes and its description.
func (f *Safetensors) Bytes(name string) ([]byte, SafetensorsTensor, error) {
	var b []byte
	var t SafetensorsTensor
	err := f.use(func(p native.Struct_SS_rai_safetensors) error {
		var idx int64
		if err := call(func() status { return native.Rai_safetensors_find(p, name, &idx) }); err != nil {
			return err
		}
		if idx < 0 {
			return newError(StatusInvalidArgument, "name: no tensor %q in the file", name)
		}
		var data uintptr
		var err error
		if t, data, err = f.info(p, int(idx)); err != nil {
			return err
		}
		b = copyFromC(data, int(t.NBytes))
		return nil
	})
	return b, t, err
}

// Float32 is tensor name's values, which must be stored as F32, and its shape.
func (f *Safetensors) Float32(name string) ([]float32, []int64, error) {
	b, t, err := f.Bytes(name)
	if err != nil {
		return nil, nil, err
	}
	if t.DType != "F32" {
		return nil, nil, newError(StatusDTypeMismatch, "name: tensor %q is %s, not F32 (use Bytes)", name, t.DType)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binenc.LittleEndian.Uint32(b[4*i:]))
	}
	return v, t.Shape, nil
}

// Metadata is the "__metadata__" map.
func (f *Safetensors) Metadata() (map[string]string, error) {
	md := map[string]string{}
	err := f.use(func(p native.Struct_SS_rai_safetensors) error {
		var n int64
		if err := call(func() status { return native.Rai_safetensors_metadata_count(p, &n) }); err != nil {
			return err
		}
		k, v := native.New_const_char_pp(), native.New_const_char_pp()
		defer native.Delete_const_char_pp(k)
		defer native.Delete_const_char_pp(v)
		for i := 0; i < int(n); i++ {
			if err := call(func() status { return native.Rai_safetensors_metadata_get(p, int64(i), k, v) }); err != nil {
				return err
			}
			md[native.Const_char_pp_value(k)] = native.Const_char_pp_value(v)
		}
		return nil
	})
	return md, err
}

// SafetensorsWriter collects tensors (copied when added) and metadata, then serialises them.
type SafetensorsWriter struct {
	handle
}

func stwp(p uintptr) native.Struct_SS_rai_safetensors_writer {
	return native.SwigcptrStruct_SS_rai_safetensors_writer(p)
}

// NewSafetensorsWriter makes an empty writer.
func NewSafetensorsWriter() (*SafetensorsWriter, error) {
	out := native.New_rai_safetensors_writer_pp()
	defer native.Delete_rai_safetensors_writer_pp(out)
	if err := call(func() status { return native.Rai_safetensors_writer_create(out) }); err != nil {
		return nil, err
	}
	w := &SafetensorsWriter{}
	w.init("SafetensorsWriter", native.Rai_safetensors_writer_pp_value(out).Swigcptr(),
		func(p uintptr) { native.Rai_safetensors_writer_destroy(stwp(p)) })
	runtime.SetFinalizer(w, (*SafetensorsWriter).Close)
	return w, nil
}

// Close frees the writer. Closing again does nothing.
func (w *SafetensorsWriter) Close() error {
	if w != nil {
		w.close()
	}
	return nil
}

func (w *SafetensorsWriter) use(fn func(p native.Struct_SS_rai_safetensors_writer) error) error {
	if w == nil {
		return newError(StatusInvalidArgument, "writer is nil")
	}
	return w.handle.use1("writer", func(p uintptr) error { return fn(stwp(p)) })
}

// Add copies a tensor: data is a []float32, []float64, []int8, []uint8, []int32, []int64 or
// []uint64 of the given shape (none: 1-D). Names are unique and not "__metadata__".
func (w *SafetensorsWriter) Add(name string, data interface{}, shape ...int) error {
	t, err := view("data", data, shape...)
	if err != nil {
		return err
	}
	return w.use(func(p native.Struct_SS_rai_safetensors_writer) error {
		return withTensors([]*hostTensor{t}, func(d []native.Rai_tensor) error {
			return call(func() status { return native.Rai_safetensors_writer_add(p, name, d[0]) })
		})
	})
}

// AddRaw copies raw little-endian bytes stored with a safetensors dtype name ("BOOL", "F16",
// "F8_E4M3", ...); len(data) must be the element count times the dtype size.
func (w *SafetensorsWriter) AddRaw(name, dtype string, shape []int64, data []byte) error {
	var sp *int64
	if len(shape) > 0 {
		sp = &shape[0]
	}
	return w.use(func(p native.Struct_SS_rai_safetensors_writer) error {
		return call(func() status { return native.Rai_safetensors_writer_add_raw(p, name, dtype, len(shape), sp, data) })
	})
}

// SetMetadata sets (or replaces) a "__metadata__" entry.
func (w *SafetensorsWriter) SetMetadata(key, value string) error {
	return w.use(func(p native.Struct_SS_rai_safetensors_writer) error {
		return call(func() status { return native.Rai_safetensors_writer_set_metadata(p, key, value) })
	})
}

// Bytes is the serialised file.
func (w *SafetensorsWriter) Bytes() ([]byte, error) {
	var b []byte
	err := w.use(func(p native.Struct_SS_rai_safetensors_writer) error {
		var need int64
		if err := call(func() status { return native.Rai_safetensors_writer_serialize(p, nil, &need) }); err != nil {
			if StatusOf(err) != StatusBufferTooSmall {
				return err
			}
		}
		var err error
		b, err = sized(int(need), func(out []byte, n *int64) status { return native.Rai_safetensors_writer_serialize(p, out, n) })
		return err
	})
	return b, err
}

// Save writes the file atomically (temporary file, then rename): on error nothing is left.
func (w *SafetensorsWriter) Save(path string) error {
	return w.use(func(p native.Struct_SS_rai_safetensors_writer) error {
		return call(func() status { return native.Rai_safetensors_writer_save(p, path) })
	})
}
