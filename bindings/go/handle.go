package rai

import (
	"sync"
)

// handle is the life cycle shared by the rai objects this package wraps (vectors, matrices,
// quantization states, layers, models, compressors, optimizers, trainers, files): the C pointer,
// a lock that keeps Close from destroying it while a call uses it, and its destructor. The
// owning Go type embeds it, exposes Close, and sets a finalizer that calls Close as a safety net.
//
// Concurrent reads of one object are safe; calls that modify an object need exclusive access,
// as with Go maps (librai does not lock these objects).
type handle struct {
	mu      sync.RWMutex
	p       uintptr // the C object; 0 once closed
	kind    string  // for error messages: "TritVector", ...
	destroy func(uintptr)
}

func (h *handle) init(kind string, p uintptr, destroy func(uintptr)) {
	h.kind, h.p, h.destroy = kind, p, destroy
}

// close destroys the object once; later calls do nothing.
func (h *handle) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.p != 0 {
		h.destroy(h.p)
		h.p = 0
	}
}

// errClosed is ErrClosed with the kind and argument named.
func (h *handle) errClosed(arg string) error {
	return &Error{Status: StatusInvalidArgument, Msg: arg + ": use of a closed rai " + h.kind}
}

// useHandles runs f with the live pointers of hs (in order), holding each distinct handle open
// for the duration. names name the arguments for the errors (nil handle, closed handle).
func useHandles(names []string, hs []*handle, f func(ps []uintptr) error) error {
	ps := make([]uintptr, len(hs))
	locked := make([]*handle, 0, len(hs))
	defer func() {
		for _, h := range locked {
			h.mu.RUnlock()
		}
	}()
	for i, h := range hs {
		if h == nil {
			return newError(StatusInvalidArgument, "%s is nil", names[i])
		}
		already := false
		for _, l := range locked {
			if l == h {
				already = true // the same object twice (out == a): lock it once
			}
		}
		if !already {
			h.mu.RLock()
			locked = append(locked, h)
		}
		if h.p == 0 {
			return h.errClosed(names[i])
		}
		ps[i] = h.p
	}
	return f(ps)
}

// use1 is useHandles for one handle.
func (h *handle) use1(name string, f func(p uintptr) error) error {
	return useHandles([]string{name}, []*handle{h}, func(ps []uintptr) error { return f(ps[0]) })
}
