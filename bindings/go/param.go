package rai

// Trainable parameters for Optimizer and Hybrid, whose C objects keep the data pointers of the
// parameters and gradients they are given (rai.h: "BORROWED"). cgo forbids C to keep a pointer
// to Go memory after a call, so a Param's value and gradient live in C memory, which Go code
// reads and writes through ordinary slices.

import (
	"runtime"
	"sync"
	"unsafe"
)

// Param is a float32 parameter and its gradient buffer, each Numel values in C memory. Value
// and Grad are slices over that memory: fill Grad in your backward pass, read Value in your
// forward pass. Register it with Optimizer.AddParam and Hybrid.AddParam.
//
// Close releases the memory once no optimizer or hybrid that borrows it is open any more (they
// hold it until they are closed), so Close it after them or in any order; the slices must not be
// used after that. A finalizer closes it otherwise.
type Param struct {
	name  string
	shape []int
	n     int

	mu        sync.Mutex
	value     unsafe.Pointer // C memory, nil once freed
	grad      unsafe.Pointer
	borrowers int
	closed    bool
}

// NewParam makes a parameter of the given shape (none: 1-D of len(init)) holding a copy of
// init, with a zero gradient. name is what librai's messages and metrics call it.
func NewParam(name string, init []float32, shape ...int) (*Param, error) {
	t, err := view("init", init, shape...)
	if err != nil {
		return nil, err
	}
	p := &Param{name: name, n: len(init)}
	for _, d := range t.shape {
		p.shape = append(p.shape, int(d))
	}
	p.value, p.grad = cAlloc(4*p.n), cAlloc(4*p.n)
	if p.value == nil || p.grad == nil {
		cFree(p.value)
		cFree(p.grad)
		return nil, newError(StatusOutOfMemory, "init: cannot allocate %d parameters", p.n)
	}
	copy(p.Value(), init)
	runtime.SetFinalizer(p, (*Param).Close)
	return p, nil
}

// Name is the parameter's name.
func (p *Param) Name() string { return p.name }

// Shape is the parameter's shape.
func (p *Param) Shape() []int { return append([]int(nil), p.shape...) }

// Numel is the number of values.
func (p *Param) Numel() int { return p.n }

func floatsAt(ptr unsafe.Pointer, n int) []float32 {
	if ptr == nil {
		return nil
	}
	return unsafe.Slice((*float32)(ptr), n)
}

// Value is the parameter's values (nil after Close took effect).
func (p *Param) Value() []float32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return floatsAt(p.value, p.n)
}

// Grad is the gradient buffer (nil after Close took effect).
func (p *Param) Grad() []float32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return floatsAt(p.grad, p.n)
}

// Close frees the memory now, or when the last optimizer or hybrid borrowing it closes.
func (p *Param) Close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.freeIfUnused()
	return nil
}

func (p *Param) freeIfUnused() {
	if p.closed && p.borrowers == 0 && p.value != nil {
		cFree(p.value)
		cFree(p.grad)
		p.value, p.grad = nil, nil
	}
}

// borrow marks p as used by a C object and returns views of its value and gradient; it fails
// on a nil or closed parameter, naming arg.
func (p *Param) borrow(arg string) (value, grad *hostTensor, err error) {
	if p == nil {
		return nil, nil, newError(StatusInvalidArgument, "%s is nil", arg)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, nil, newError(StatusInvalidArgument, "%s: use of a closed rai Param", arg)
	}
	value, _ = view(arg, floatsAt(p.value, p.n), p.shape...)
	grad, _ = view(arg+" gradient", floatsAt(p.grad, p.n), p.shape...)
	p.borrowers++
	return value, grad, nil
}

// release ends a borrow.
func (p *Param) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.borrowers--
	p.freeIfUnused()
}

// registerParam borrows p and runs add (the C registration) with its views; a failed add
// returns the borrow.
func registerParam(arg string, p *Param, add func(value, grad *hostTensor) error) error {
	value, grad, err := p.borrow(arg)
	if err != nil {
		return err
	}
	if err := add(value, grad); err != nil {
		p.release()
		return err
	}
	return nil
}
