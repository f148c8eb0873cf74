package rai

// Parameter-efficient adapters with HF PEFT semantics and files: LoRA (rsLoRA, DoRA), IA3, VeRA,
// LoHa, LoKr, AdaLoRA (rai.h section "adapters: LoRA family", docs/adapters.md).

import (
	"encoding/json"
	"runtime"
	"strings"

	"rai.invalid/rai/native"
)

// PEFTType is a tuner (rai_peft_type values).
type PEFTType int32

const (
	PEFTLoRA PEFTType = 1 // LoRA, rsLoRA and DoRA (AdapterOptions.RSLoRA, DoRA)
	PEFTIA3  PEFTType = 2
	PEFTVeRA PEFTType = 3
	PEFTLoHa PEFTType = 4
	PEFTLoKr PEFTType = 5
	// AdaLoRA at a fixed rank pattern: Rank is init_r, RankPattern {"<module>.lora_E": [true, ...]}
	PEFTAdaLoRA PEFTType = 6
)

// AdapterInit is rai_adapter_init.
type AdapterInit int32

const (
	InitDefault  AdapterInit = 0 // LoRA: A Kaiming-uniform, B = 0: the output equals the base
	InitGaussian AdapterInit = 1 // LoRA: A ~ N(0, 1/r^2), B = 0
	InitNone     AdapterInit = 2 // all zeros, to be loaded or set
	InitRandom   AdapterInit = 3 // every factor random (tests only)
)

// AdapterBias is rai_adapter_bias: which base biases the adapter trains and saves.
type AdapterBias int32

const (
	BiasNone     AdapterBias = 0
	BiasAll      AdapterBias = 1
	BiasLoRAOnly AdapterBias = 2
)

// AdapterOptions configure AddAdapter (rai_adapter_params); zero fields take librai's
// defaults. The JSON fields hold PEFT values as JSON text ("" = unset); TargetModules is
// required: `["q_proj","v_proj"]`, a regex string `".*proj"` or `"all-linear"`.
type AdapterOptions struct {
	Type            PEFTType // 0 = LoRA
	R               int      // rank; 0 = the tuner's default
	Alpha           float32  // 0 = 8
	Dropout         float32  // in [0, 1), training only
	Init            AdapterInit
	RSLoRA          bool // scale alpha/sqrt(r)
	DoRA            bool // weight-decomposed LoRA
	FanInFanOut     bool
	LoRABias        bool // lora_B carries a bias
	Bias            AdapterBias
	Seed            uint64
	TargetModules   string
	ExcludeModules  string
	RankPattern     string // {"pattern": r, ...}; AdaLoRA: {"<module>.lora_E": [true, false, ...]}
	AlphaPattern    string // {"pattern": alpha, ...}
	FeedforwardMods string // IA3
	VeRADInitial    float32
	RankDropout     float32 // LoHa/LoKr
	ModuleDropout   float32 // LoHa/LoKr
	DecomposeFactor int     // LoKr; 0 = automatic
}

// Combination is how AddWeighted combines LoRA adapters.
type Combination int32

const (
	CombineCat    Combination = 1 // exact: ranks concatenated
	CombineLinear Combination = 2 // PEFT "linear": equal ranks
)

// MergeFlags are RAI_ADAPTER_MERGE_* bits.
type MergeFlags uint32

const (
	MergeSafe         MergeFlags = 0x1 // compute out of place; reject non-finite results
	MergeLossy        MergeFlags = 0x2 // required to merge into a 4-bit base
	MergeKeepOriginal MergeFlags = 0x4 // keep the pre-merge weights: Unmerge is bit-exact
)

// AdapterTensor describes one tensor of an adapter (AdapterModel.Tensors).
type AdapterTensor struct {
	Key       string `json:"key"`
	Shape     []int  `json:"shape"`
	Trainable bool   `json:"trainable"`
}

type adapterModule struct {
	out, in int
	bias    bool
}

// AdapterModel is a set of frozen linear base modules (by their HF names) and named adapters
// over them (rai_adapter_model). It computes on its context's device; its state (weights,
// adapter tensors, gradients) is host memory on any device, so the slice methods serve both.
// On a CUDA context use ForwardInto/BackwardInto with BufferTensors; 4-bit modules need a CPU
// context. Close it before its context.
type AdapterModel struct {
	handle
	ctx     *Context
	modules map[string]adapterModule
}

func admp(p uintptr) native.Struct_SS_rai_adapter_model {
	return native.SwigcptrStruct_SS_rai_adapter_model(p)
}

// NewAdapterModel makes an empty model on ctx (StatusUnsupported on a CUDA context: use
// LoRALinear there).
func NewAdapterModel(ctx *Context) (*AdapterModel, error) {
	var m *AdapterModel
	err := ctx.use(func(ch native.Struct_SS_rai_context) error {
		out := native.New_rai_adapter_model_pp()
		defer native.Delete_rai_adapter_model_pp(out)
		if err := call(func() status { return native.Rai_adapter_model_create(ch, out) }); err != nil {
			return err
		}
		m = &AdapterModel{ctx: ctx, modules: map[string]adapterModule{}}
		m.init("AdapterModel", native.Rai_adapter_model_pp_value(out).Swigcptr(),
			func(p uintptr) { native.Rai_adapter_model_destroy(admp(p)) })
		runtime.SetFinalizer(m, (*AdapterModel).Close)
		return nil
	})
	return m, err
}

// Close frees the model. Closing again does nothing.
func (m *AdapterModel) Close() error {
	if m != nil {
		m.close()
	}
	return nil
}

func (m *AdapterModel) use(f func(p native.Struct_SS_rai_adapter_model) error) error {
	if m == nil {
		return newError(StatusInvalidArgument, "model is nil")
	}
	return m.ctx.use(func(native.Struct_SS_rai_context) error {
		return m.handle.use1("model", func(p uintptr) error { return f(admp(p)) })
	})
}

// withTensorsOn runs a model call with host tensor views.
func (m *AdapterModel) withTensorsOn(ts []*hostTensor, f func(p native.Struct_SS_rai_adapter_model, d []native.Rai_tensor) status) error {
	return m.use(func(p native.Struct_SS_rai_adapter_model) error {
		return withTensors(ts, func(d []native.Rai_tensor) error {
			return call(func() status { return f(p, d) })
		})
	})
}

// AddLinear registers a frozen linear module: weight [out, in] (with fanInFanOut [in, out], as
// GPT-2's Conv1D), bias nil or [out]. The model copies them.
func (m *AdapterModel) AddLinear(name string, weight []float32, out, in int, bias []float32, fanInFanOut bool) error {
	shape := []int{out, in}
	var flags uint
	if fanInFanOut {
		shape, flags = []int{in, out}, uint(native.RAI_LINEAR_FAN_IN_FAN_OUT)
	}
	var b interface{}
	if bias != nil {
		b = bias
	}
	ts, err := views(spec("weight", weight, shape...), spec("bias", b, out))
	if err != nil {
		return err
	}
	err = m.withTensorsOn(ts, func(p native.Struct_SS_rai_adapter_model, d []native.Rai_tensor) status {
		return native.Rai_adapter_model_add_linear(p, name, d[0], d[1], flags)
	})
	if err == nil {
		m.modules[name] = adapterModule{out: out, in: in, bias: bias != nil}
	}
	return err
}

// AddLinearQ4 registers a frozen 4-bit module (QLoRA) from a 2-D [out, in] state and its codes
// (both copied); bias nil or [out].
func (m *AdapterModel) AddLinearQ4(name string, state *QuantState, codes []byte, bias []float32) error {
	if state == nil {
		return newError(StatusInvalidArgument, "state is nil")
	}
	out, in, err := state.matrixShape()
	if err != nil {
		return err
	}
	var b interface{}
	if bias != nil {
		b = bias
	}
	ts, err := views(spec("codes", codes), spec("bias", b, out))
	if err != nil {
		return err
	}
	err = m.use(func(p native.Struct_SS_rai_adapter_model) error {
		return state.h().use1("state", func(sp uintptr) error {
			return withTensors(ts, func(d []native.Rai_tensor) error {
				return call(func() status { return native.Rai_adapter_model_add_linear_q4(p, name, q4state(sp), d[0], d[1]) })
			})
		})
	})
	if err == nil {
		m.modules[name] = adapterModule{out: out, in: in, bias: bias != nil}
	}
	return err
}

func (m *AdapterModel) module(name string) (adapterModule, error) {
	if m == nil {
		return adapterModule{}, newError(StatusInvalidArgument, "model is nil")
	}
	mod, ok := m.modules[name]
	if !ok {
		return mod, newError(StatusInvalidArgument, "module %q is not registered", name)
	}
	return mod, nil
}

// Weight copies module name's current weight [out, in] (merges included; a 4-bit weight
// dequantized) and its bias (nil without one).
func (m *AdapterModel) Weight(name string) (weight, bias []float32, err error) {
	mod, err := m.module(name)
	if err != nil {
		return nil, nil, err
	}
	weight = make([]float32, mod.out*mod.in)
	var b interface{}
	if mod.bias {
		bias = make([]float32, mod.out)
		b = bias
	}
	ts, _ := views(spec("weight", weight, mod.out, mod.in), spec("bias", b))
	err = m.withTensorsOn(ts, func(p native.Struct_SS_rai_adapter_model, d []native.Rai_tensor) status {
		return native.Rai_adapter_model_get_weight(p, name, d[0], d[1])
	})
	if err != nil {
		return nil, nil, err
	}
	return weight, bias, nil
}

func (m *AdapterModel) jsonOf(f func(p native.Struct_SS_rai_adapter_model, pp *string) status) (string, error) {
	var text string
	err := m.use(func(p native.Struct_SS_rai_adapter_model) error {
		var err error
		text, err = takeCString(func(pp *string) status { return f(p, pp) })
		return err
	})
	return text, err
}

// InfoJSON describes the modules, adapters, active and merged adapters as JSON.
func (m *AdapterModel) InfoJSON() (string, error) {
	return m.jsonOf(func(p native.Struct_SS_rai_adapter_model, pp *string) status {
		return native.Rai_adapter_model_info_json(p, pp)
	})
}

// SetTraining switches dropout on (training) or off (eval, the default).
func (m *AdapterModel) SetTraining(training bool) error {
	return m.use(func(p native.Struct_SS_rai_adapter_model) error {
		return call(func() status { return native.Rai_adapter_model_set_training(p, int(b2u(training, 1))) })
	})
}

// AddAdapter creates adapter name over the modules its TargetModules match; it becomes the
// active adapter when none was active. Nothing changes on error.
func (m *AdapterModel) AddAdapter(name string, o AdapterOptions) error {
	return m.use(func(p native.Struct_SS_rai_adapter_model) error {
		params := native.NewRai_adapter_params()
		defer native.DeleteRai_adapter_params(params)
		if o.Type != 0 {
			params.SetPeft_type(int(o.Type))
		}
		params.SetR(o.R)
		params.SetAlpha(o.Alpha)
		params.SetDropout(o.Dropout)
		params.SetInit(int(o.Init))
		params.SetFlags(b2u(o.RSLoRA, uint(native.RAI_ADAPTER_RSLORA)) | b2u(o.DoRA, uint(native.RAI_ADAPTER_DORA)) |
			b2u(o.FanInFanOut, uint(native.RAI_ADAPTER_FAN_IN_FAN_OUT)) | b2u(o.LoRABias, uint(native.RAI_ADAPTER_LORA_BIAS)))
		params.SetBias(int(o.Bias))
		params.SetSeed(o.Seed)
		params.SetVera_d_initial(o.VeRADInitial)
		params.SetRank_dropout(o.RankDropout)
		params.SetModule_dropout(o.ModuleDropout)
		if o.DecomposeFactor != 0 {
			params.SetDecompose_factor(o.DecomposeFactor)
		}
		return call(func() status {
			return adapterAdd(p.Swigcptr(), name, params.Swigcptr(), o.TargetModules, o.ExcludeModules, o.RankPattern,
				o.AlphaPattern, o.FeedforwardMods)
		})
	})
}

// AddAdapterJSON creates adapter name from PEFT adapter_config.json text, initialised as the
// config says (seed keys the random init).
func (m *AdapterModel) AddAdapterJSON(name, configJSON string, seed uint64) error {
	return m.use(func(p native.Struct_SS_rai_adapter_model) error {
		return call(func() status { return native.Rai_adapter_add_json(p, name, configJSON, seed) })
	})
}

// DeleteAdapter removes an adapter (StatusInvalidArgument while it is merged).
func (m *AdapterModel) DeleteAdapter(name string) error {
	return m.use(func(p native.Struct_SS_rai_adapter_model) error {
		return call(func() status { return native.Rai_adapter_delete(p, name) })
	})
}

// withNames runs f with a C array of names (nil for none).
func withNames(names []string, f func(arr *string) error) error {
	arr, err := cStrings(names)
	if err != nil {
		return err
	}
	defer cStringsFree(arr)
	return f((*string)(arr))
}

// SetActive makes names the active adapters with weights (nil = all 1, else one per name):
// y = base + sum w_i adapter_i(x). No names: none active.
func (m *AdapterModel) SetActive(names []string, weights []float32) error {
	var w *float32
	if weights != nil {
		if len(weights) != len(names) {
			return newError(StatusShapeMismatch, "weights has %d values for %d names", len(weights), len(names))
		}
		if len(weights) > 0 {
			w = &weights[0]
		}
	}
	return m.use(func(p native.Struct_SS_rai_adapter_model) error {
		return withNames(names, func(arr *string) error {
			return call(func() status { return native.Rai_adapter_set_active(p, arr, w, int64(len(names))) })
		})
	})
}

// SetEnabled(false) unmerges everything and computes the base only until SetEnabled(true).
func (m *AdapterModel) SetEnabled(enabled bool) error {
	return m.use(func(p native.Struct_SS_rai_adapter_model) error {
		return call(func() status { return native.Rai_adapter_set_enabled(p, int(b2u(enabled, 1))) })
	})
}

// AddWeighted creates LoRA adapter newName combining names with weights, as PEFT's
// add_weighted_adapter.
func (m *AdapterModel) AddWeighted(newName string, names []string, weights []float32, how Combination) error {
	if len(weights) != len(names) || len(names) == 0 {
		return newError(StatusShapeMismatch, "weights has %d values for %d names (at least one)", len(weights), len(names))
	}
	return m.use(func(p native.Struct_SS_rai_adapter_model) error {
		return withNames(names, func(arr *string) error {
			return call(func() status {
				return native.Rai_adapter_add_weighted(p, newName, arr, &weights[0], int64(len(names)), int(how))
			})
		})
	})
}

// TensorsJSON lists the adapter's tensors as JSON [{"key", "shape", "trainable"}, ...].
func (m *AdapterModel) TensorsJSON(adapter string) (string, error) {
	return m.jsonOf(func(p native.Struct_SS_rai_adapter_model, pp *string) status {
		return native.Rai_adapter_tensors_json(p, adapter, pp)
	})
}

// Tensors lists the adapter's tensors by PEFT key.
func (m *AdapterModel) Tensors(adapter string) ([]AdapterTensor, error) {
	text, err := m.TensorsJSON(adapter)
	if err != nil {
		return nil, err
	}
	var ts []AdapterTensor
	if err := json.Unmarshal([]byte(text), &ts); err != nil {
		var wrapped struct {
			Tensors []AdapterTensor `json:"tensors"`
		}
		if err2 := json.Unmarshal([]byte(text), &wrapped); err2 != nil {
			return nil, newError(StatusFormat, "tensors JSON: %v", err)
		}
		ts = wrapped.Tensors
	}
	return ts, nil
}

// ConfigJSON is the adapter's PEFT adapter_config.json text.
func (m *AdapterModel) ConfigJSON(adapter string) (string, error) {
	return m.jsonOf(func(p native.Struct_SS_rai_adapter_model, pp *string) status {
		return native.Rai_adapter_config_json(p, adapter, pp)
	})
}

// keyShape finds key among the adapter's tensors (with or without ".default").
func (m *AdapterModel) keyShape(adapter, key string) ([]int, error) {
	ts, err := m.Tensors(adapter)
	if err != nil {
		return nil, err
	}
	plain := strings.Replace(key, ".default", "", 1)
	for _, t := range ts {
		if t.Key == key || strings.Replace(t.Key, ".default", "", 1) == plain {
			return t.Shape, nil
		}
	}
	return nil, newError(StatusInvalidArgument, "key %q: adapter %q has no such tensor", key, adapter)
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func (m *AdapterModel) readTensor(adapter, key string, grad bool) ([]float32, error) {
	shape, err := m.keyShape(adapter, key)
	if err != nil {
		return nil, err
	}
	dst := make([]float32, numel(shape))
	t, err := view("dst", dst, shape...)
	if err != nil {
		return nil, err
	}
	err = m.withTensorsOn([]*hostTensor{t}, func(p native.Struct_SS_rai_adapter_model, d []native.Rai_tensor) status {
		if grad {
			return native.Rai_adapter_get_grad(p, adapter, key, d[0])
		}
		return native.Rai_adapter_get_tensor(p, adapter, key, d[0])
	})
	if err != nil {
		return nil, err
	}
	return dst, nil
}

// Tensor copies an adapter tensor by PEFT key ("base_model.model.<module>.lora_A.weight", ...).
func (m *AdapterModel) Tensor(adapter, key string) ([]float32, error) {
	return m.readTensor(adapter, key, false)
}

// Grad copies the accumulated gradient of an adapter tensor.
func (m *AdapterModel) Grad(adapter, key string) ([]float32, error) {
	return m.readTensor(adapter, key, true)
}

// SetTensor copies src (the key's element count) into an adapter tensor.
func (m *AdapterModel) SetTensor(adapter, key string, src []float32) error {
	shape, err := m.keyShape(adapter, key)
	if err != nil {
		return err
	}
	t, err := view("src", src, shape...)
	if err != nil {
		return err
	}
	return m.withTensorsOn([]*hostTensor{t}, func(p native.Struct_SS_rai_adapter_model, d []native.Rai_tensor) status {
		return native.Rai_adapter_set_tensor(p, adapter, key, d[0])
	})
}

// ClipGradNorm scales the gradients of adapter ("" = every adapter) so their global L2 norm is
// at most maxNorm, and returns the norm before clipping.
func (m *AdapterModel) ClipGradNorm(adapter string, maxNorm float32) (norm float32, err error) {
	err = m.use(func(p native.Struct_SS_rai_adapter_model) error {
		return call(func() status { return adapterClip(p.Swigcptr(), adapter, maxNorm, &norm) })
	})
	return norm, err
}

// AdaLoRAUpdate runs PEFT's AdaLoRA budget allocator for one training step (update_and_allocate:
// call it after backward and the optimizer step, before ZeroGrad) and returns the rank budget.
func (m *AdapterModel) AdaLoRAUpdate(adapter string, globalStep int64) (budget int64, err error) {
	err = m.use(func(p native.Struct_SS_rai_adapter_model) error {
		return call(func() status { return adaloraUpdate(p.Swigcptr(), adapter, globalStep, &budget) })
	})
	return budget, err
}

// AdaLoRAOrthReg returns AdaLoRA's orthogonal regulariser (add it to the loss) and, when
// accumulate is true, adds its gradient to the adapter's gradients.
func (m *AdapterModel) AdaLoRAOrthReg(adapter string, accumulate bool) (loss float32, err error) {
	err = m.use(func(p native.Struct_SS_rai_adapter_model) error {
		return call(func() status { return adaloraOrthReg(p.Swigcptr(), adapter, accumulate, &loss) })
	})
	return loss, err
}

// ZeroGrad zeroes the accumulated gradients of adapter ("" = every adapter).
func (m *AdapterModel) ZeroGrad(adapter string) error {
	return m.use(func(p native.Struct_SS_rai_adapter_model) error {
		return call(func() status { return adapterZeroGrad(p.Swigcptr(), adapter) })
	})
}

// rows checks that x holds whole rows of width and returns their count.
func rows(name string, x []float32, width int) (int, error) {
	if width <= 0 || len(x)%width != 0 || len(x) == 0 {
		return 0, newError(StatusShapeMismatch, "%s has %d values, not a positive multiple of %d", name, len(x), width)
	}
	return len(x) / width, nil
}

// moduleRows is module's shape and the number of rows of x [rows, in] for it.
func (m *AdapterModel) moduleRows(module string, x interface{}) (adapterModule, int, error) {
	mod, err := m.module(module)
	if err != nil {
		return mod, 0, err
	}
	r, err := rowsOf("x", x, mod.in)
	return mod, r, err
}

// Forward is y [rows, out] = module(x [rows, in]) with the active adapters (CPU context).
func (m *AdapterModel) Forward(module string, x []float32) ([]float32, error) {
	mod, r, err := m.moduleRows(module, x)
	if err != nil {
		return nil, err
	}
	y := make([]float32, r*mod.out)
	if err := m.ForwardInto(module, x, y); err != nil {
		return nil, err
	}
	return y, nil
}

// ForwardInto writes y [rows, out] = module(x [rows, in]): slices ([]float32, Float16,
// BFloat16) on a CPU context, BufferTensors on a CUDA context (computed there); one float dtype.
func (m *AdapterModel) ForwardInto(module string, x, y interface{}) error {
	mod, r, err := m.moduleRows(module, x)
	if err != nil {
		return err
	}
	ts, err := views(spec("x", x, r, mod.in), spec("y", y, r, mod.out))
	if err != nil {
		return err
	}
	return m.withTensorsOn(ts, func(p native.Struct_SS_rai_adapter_model, d []native.Rai_tensor) status {
		return native.Rai_adapter_forward(p, module, d[0], d[1])
	})
}

// ForwardMixed is Forward for a mixed batch (eval only): row i uses adapter
// names[rowAdapter[i]], or the base for -1.
func (m *AdapterModel) ForwardMixed(module string, x []float32, names []string, rowAdapter []int32) ([]float32, error) {
	mod, r, err := m.moduleRows(module, x)
	if err != nil {
		return nil, err
	}
	if len(rowAdapter) != r {
		return nil, newError(StatusShapeMismatch, "rowAdapter has %d entries for %d rows", len(rowAdapter), r)
	}
	y := make([]float32, r*mod.out)
	ts, _ := views(spec("x", x, r, mod.in), spec("y", y, r, mod.out))
	err = m.use(func(p native.Struct_SS_rai_adapter_model) error {
		return withNames(names, func(arr *string) error {
			return withTensors(ts, func(d []native.Rai_tensor) error {
				return call(func() status {
					return native.Rai_adapter_forward_mixed(p, module, d[0], arr, int64(len(names)), &rowAdapter[0], d[1])
				})
			})
		})
	})
	if err != nil {
		return nil, err
	}
	return y, nil
}

// Backward of the latest Forward of module (the same x): adds the active adapters' parameter
// gradients and returns dx [rows, in].
func (m *AdapterModel) Backward(module string, x, dy []float32) ([]float32, error) {
	mod, r, err := m.moduleRows(module, x)
	if err != nil {
		return nil, err
	}
	dx := make([]float32, r*mod.in)
	if err := m.BackwardInto(module, x, dy, dx); err != nil {
		return nil, err
	}
	return dx, nil
}

// BackwardInto is Backward on caller tensors: slices on a CPU context, BufferTensors on a CUDA
// context; dx may be nil (parameter gradients only).
func (m *AdapterModel) BackwardInto(module string, x, dy, dx interface{}) error {
	mod, r, err := m.moduleRows(module, x)
	if err != nil {
		return err
	}
	ts, err := views(spec("x", x, r, mod.in), spec("dy", dy, r, mod.out), spec("dx", optionalT(dx), r, mod.in))
	if err != nil {
		return err
	}
	return m.withTensorsOn(ts, func(p native.Struct_SS_rai_adapter_model, d []native.Rai_tensor) status {
		return native.Rai_adapter_backward(p, module, d[0], d[1], d[2])
	})
}

// Merge adds the named adapters (none: the active ones) into the base weights.
func (m *AdapterModel) Merge(names []string, flags MergeFlags) error {
	return m.use(func(p native.Struct_SS_rai_adapter_model) error {
		return withNames(names, func(arr *string) error {
			return call(func() status { return native.Rai_adapter_merge(p, arr, int64(len(names)), uint(flags)) })
		})
	})
}

// Unmerge pops count merged adapters (0 = all), last merged first.
func (m *AdapterModel) Unmerge(count int) error {
	return m.use(func(p native.Struct_SS_rai_adapter_model) error {
		return call(func() status { return native.Rai_adapter_unmerge(p, count) })
	})
}

// MergedWeight is module's weight [out, in] with the named adapters (none: the active ones)
// merged, applied to master [out, in] when not nil (QLoRA's merge into the dense master);
// nothing in the model changes.
func (m *AdapterModel) MergedWeight(module string, names []string, master []float32) ([]float32, error) {
	mod, err := m.module(module)
	if err != nil {
		return nil, err
	}
	out := make([]float32, mod.out*mod.in)
	var ms interface{}
	if master != nil {
		ms = master
	}
	ts, err := views(spec("master", ms, mod.out, mod.in), spec("out", out, mod.out, mod.in))
	if err != nil {
		return nil, err
	}
	err = m.use(func(p native.Struct_SS_rai_adapter_model) error {
		return withNames(names, func(arr *string) error {
			return withTensors(ts, func(d []native.Rai_tensor) error {
				return call(func() status {
					return native.Rai_adapter_merged_weight(p, module, arr, int64(len(names)), d[0], d[1])
				})
			})
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LoadPEFT loads an HF PEFT directory (adapter_config.json + adapter_model.safetensors) as
// adapter name.
func (m *AdapterModel) LoadPEFT(dir, name string) error {
	return m.use(func(p native.Struct_SS_rai_adapter_model) error {
		return call(func() status { return native.Rai_adapter_load_peft(p, dir, name) })
	})
}

// SavePEFT writes adapter name as an HF PEFT directory, tensors in f32.
func (m *AdapterModel) SavePEFT(name, dir string) error {
	return m.use(func(p native.Struct_SS_rai_adapter_model) error {
		return call(func() status { return native.Rai_adapter_save_peft(p, name, dir, native.SwigcptrRai_dtype(0)) })
	})
}
