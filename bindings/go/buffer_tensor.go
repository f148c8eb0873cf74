package rai

// Buffer tensors: a Buffer (CUDA or CPU memory of a Context) viewed as a tensor, accepted
// wherever this package takes a tensor argument as an interface{} (the ...Into functions,
// QLoRALinear, SafetensorsWriter.Add, ...). This is how device data reaches librai from Go:
// the memory is C's, so nothing is pinned; the buffer is held open for the duration of the call.

import "rai.invalid/rai/native"

// DType is a rai_dtype (DLPack's DLDataType, lanes 1): the element type of a BufferTensor.
type DType struct {
	Code uint8 // rai_dtype_code: 0 int, 1 uint, 2 float, 4 bfloat
	Bits uint8
}

// The dtypes librai supports.
var (
	F32  = DType{uint8(native.RAI_DTYPE_FLOAT), 32}
	F16  = DType{uint8(native.RAI_DTYPE_FLOAT), 16}
	BF16 = DType{uint8(native.RAI_DTYPE_BFLOAT), 16}
	F64  = DType{uint8(native.RAI_DTYPE_FLOAT), 64}
	I8   = DType{uint8(native.RAI_DTYPE_INT), 8}
	I32  = DType{uint8(native.RAI_DTYPE_INT), 32}
	I64  = DType{uint8(native.RAI_DTYPE_INT), 64}
	U8   = DType{uint8(native.RAI_DTYPE_UINT), 8}
	U32  = DType{uint8(native.RAI_DTYPE_UINT), 32}
	U64  = DType{uint8(native.RAI_DTYPE_UINT), 64}
)

// Size is the bytes of one element; 0 for a dtype librai does not support.
func (d DType) Size() int {
	if d.String() == "" {
		return 0
	}
	return int(d.Bits) / 8
}

// String is librai's short name ("f32", "bf16", ...), "" when librai does not support d.
func (d DType) String() string {
	var s string
	d.native(func(nd native.Rai_dtype) { s = native.Rai_dtype_name(nd) })
	return s
}

func (d DType) native(f func(native.Rai_dtype)) {
	nd := native.NewRai_dtype()
	defer native.DeleteRai_dtype(nd)
	nd.SetCode(d.Code)
	nd.SetBits(d.Bits)
	nd.SetLanes(1)
	f(nd)
}

// BufferTensor is a contiguous row-major view of the start of a Buffer: Shape elements of
// DType. Make it with Buffer.Tensor; it does not own the buffer.
type BufferTensor struct {
	Buffer *Buffer
	DType  DType
	Shape  []int
}

// Tensor views the buffer as a tensor of dtype and shape (no shape: 1-D over the whole buffer).
// The checks happen when the tensor is passed to a function, whose error names the argument.
func (b *Buffer) Tensor(dtype DType, shape ...int) BufferTensor {
	if len(shape) == 0 && b != nil && dtype.Bits >= 8 {
		shape = []int{b.size / (int(dtype.Bits) / 8)}
	}
	return BufferTensor{Buffer: b, DType: dtype, Shape: append([]int(nil), shape...)}
}

// view checks the buffer tensor and describes it; shape (when given) replaces its own shape
// and must have as many elements.
func (bt BufferTensor) view(name string, shape []int) (*hostTensor, error) {
	if bt.Buffer == nil {
		return nil, newError(StatusInvalidArgument, "%s: the BufferTensor has no buffer", name)
	}
	if bt.DType.String() == "" {
		return nil, newError(StatusDTypeMismatch, "%s: unsupported dtype (code %d, %d bits)", name, bt.DType.Code, bt.DType.Bits)
	}
	t := &hostTensor{name: name, buf: bt.Buffer, code: bt.DType.Code, bits: bt.DType.Bits}
	if err := t.setShape(product(bt.Shape), bt.Shape); err != nil {
		return nil, err
	}
	if need := t.numel() * int(bt.DType.Bits) / 8; need > bt.Buffer.size {
		return nil, newError(StatusShapeMismatch, "%s: shape %v of %s needs %d bytes, the buffer has %d", name, bt.Shape,
			bt.DType, need, bt.Buffer.size)
	}
	if len(shape) > 0 {
		if err := t.setShape(t.numel(), shape); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func product(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// holdBuffers keeps the buffers of ts open while f runs and points their descriptors (raw) at
// the buffers' memory on their device. A closed buffer fails naming the argument.
func holdBuffers(ts []*hostTensor, raw []uintptr, f func() error) error {
	var held []*Buffer
	defer func() {
		for _, b := range held {
			b.mu.RUnlock()
		}
	}()
	for i, t := range ts {
		if t == nil || t.buf == nil {
			continue
		}
		b := t.buf
		already := false
		for _, h := range held {
			already = already || h == b // the same buffer twice: lock it once
		}
		if !already {
			b.mu.RLock()
			held = append(held, b)
		}
		if b.h == nil {
			return newError(StatusInvalidArgument, "%s: use of a closed rai Buffer", t.name)
		}
		d := native.NewRai_device()
		st := native.Rai_buffer_device(b.h, d)
		dev := DeviceSpec{Type: DeviceType(d.GetDevice_type()), ID: d.GetDevice_id()}
		native.DeleteRai_device(d)
		if st != 0 {
			return newError(Status(st), "%s: cannot read the buffer's device", t.name)
		}
		cTensorPlace(raw[i], native.Rai_buffer_data(b.h), dev)
	}
	return f()
}
