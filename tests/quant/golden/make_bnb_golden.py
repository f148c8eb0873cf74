#!/usr/bin/env python3
"""Golden files from the real bitsandbytes, for rai's NF4/FP4 compatibility tests.

Run with torch (CPU) and bitsandbytes installed, from any directory:

    python3 -m venv /tmp/golden-venv && /tmp/golden-venv/bin/pip install torch bitsandbytes safetensors numpy
    /tmp/golden-venv/bin/python tests/quant/golden/make_bnb_golden.py

Writes, next to this script:
  bnb_quantize_4bit.safetensors  per case <c>: <c>.input (the tensor quantised, native dtype),
      <c>.codes (u8 packed codes as quantize_4bit returned them), <c>.absmax (f32, or u8 with
      double quant), <c>.nested_absmax, <c>.nested_quant_map (double quant), <c>.offset (f32
      [1]) and <c>.dequant (bitsandbytes.functional.dequantize_4bit of the state, in the input dtype). The
      __metadata__ holds the bitsandbytes/torch versions and one JSON entry per case.
  bnb_linear4bit.safetensors     the state_dict of two bnb.nn.Linear4bit modules, exactly as
      safetensors.torch.save_file writes it (keys model.layers.0.mlp.down_proj.* NF4 with double
      quant, model.layers.0.self_attn.q_proj.* FP4 without).
  bnb_linear4bit_io.safetensors  the bf16 weights those modules were built from, an input x and
      each module's output y (fp32 compute) for the matmul tolerance check.

bitsandbytes runs its CPU ("default") backend here. That backend differs from the CUDA kernels,
whose rules rai follows (docs/quant.md, "bitsandbytes CPU vs CUDA"):
  * all-zero block: CPU codes 0x77 (NF4), CUDA 0x00;
  * all-zero last partial block: CPU stores absmax 1e-38, CUDA 0;
  * FP4 |x/absmax| <= 0.0026: CPU gives code 8 to small positives and 0 to small negatives,
    CUDA the opposite (both decode to a signed zero);
  * NF4/FP4 thresholds: CPU uses fp32 midpoints of the code (torch.bucketize), CUDA literals
    that differ by 1-2 ulp (NF4 t0, t8, t12, t14; FP4 0.583333);
  * last partial block: CPU divides by absmax, CUDA multiplies by the fp32 reciprocal;
  * 8-bit nested absmax (double quant): the CPU C++ kernel's approximate search picks the
    farther neighbour in a few near-tie cases; CUDA picks the nearest by its midpoint rule;
  * offset = absmax.mean() in torch's CPU summation order.
The C++ test classifies every difference into one of these and requires rai == bnb elsewhere.

With `--device cuda` (on a machine with an NVIDIA GPU and bitsandbytes' CUDA library) the same
cases run through bitsandbytes' CUDA kernels and the files are named *_cuda.safetensors; there
rai must equal bitsandbytes bit for bit (codes, absmax, nested 8-bit state, dequantised values),
and the Linear4bit outputs include a one-row input, which bitsandbytes computes with its fused
gemv_4bit kernel. `--out DIR` writes elsewhere than next to this script.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import bitsandbytes as bnb
import bitsandbytes.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def cases():
    g = torch.Generator().manual_seed(20261122)

    def normal(n, scale=1.0):
        return torch.randn(n, generator=g) * scale

    out = []
    # NF4, block 64, f32, partial last block (1000 = 15*64 + 40) and an all-zero block.
    x = normal(1000)
    x[128:192] = 0
    out.append(("nf4_b64_f32", x, "nf4", 64, False))
    out.append(("fp4_b64_f32", x.clone(), "fp4", 64, False))
    # NF4, block 32, bf16, odd n.
    out.append(("nf4_b32_bf16", normal(4097, 0.02).to(torch.bfloat16), "nf4", 32, False))
    # FP4, block 128, f16, all-zero partial last block (n = 1030: last block has 6 zeros).
    y = normal(1030, 3.0)
    y[1024:] = 0
    out.append(("fp4_b128_f16", y.to(torch.float16), "fp4", 128, False))
    # NF4, block 4096, f32, one full and one partial block.
    out.append(("nf4_b4096_f32", normal(5000), "nf4", 4096, False))
    # Double quant: NF4 block 64 on 64*1000 bf16 values (4 nested blocks, the last partial).
    w = normal(64 * 1000, 0.05)
    w[64 * 7:64 * 8] = 0
    out.append(("nf4_b64_bf16_dq", w.to(torch.bfloat16), "nf4", 64, True))
    # Double quant: FP4 block 256, f32, n = 256*40 + 7 (41 blocks, one partial nested block).
    out.append(("fp4_b256_f32_dq", normal(256 * 40 + 7, 2.0), "fp4", 256, True))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--out", default=HERE)
    args = ap.parse_args()
    dev = args.device
    suffix = "" if dev == "cpu" else "_" + dev
    out_dir = args.out
    os.makedirs(out_dir, exist_ok=True)
    tensors = {}
    meta = {"bitsandbytes": bnb.__version__, "torch": torch.__version__, "numpy": np.__version__,
            "generator": sys.argv[0].split("/")[-1], "device": dev}
    if dev == "cuda":
        meta["gpu"] = torch.cuda.get_device_name(0)
    for name, x, qt, bs, dq in cases():
        q, st = F.quantize_4bit(x.to(dev), blocksize=bs, compress_statistics=dq, quant_type=qt)
        deq = F.dequantize_4bit(q, st).cpu()  # in the state dtype (the input dtype)
        q = q.cpu()
        tensors[name + ".input"] = x.contiguous()
        tensors[name + ".codes"] = q.contiguous()
        tensors[name + ".dequant"] = deq.contiguous()
        info = {"quant_type": qt, "blocksize": bs, "double_quant": dq, "n": x.numel(), "dtype": str(x.dtype)}
        if dq:
            tensors[name + ".absmax"] = st.absmax.cpu().contiguous()  # u8
            tensors[name + ".nested_absmax"] = st.state2.absmax.cpu().contiguous()
            tensors[name + ".nested_quant_map"] = st.state2.code.cpu().contiguous()
            tensors[name + ".offset"] = st.offset.reshape(1).float().cpu().contiguous()
            info["offset"] = float(st.offset)
        else:
            tensors[name + ".absmax"] = st.absmax.cpu().contiguous()
        meta[name] = json.dumps(info)
    save_file(tensors, os.path.join(out_dir, "bnb_quantize_4bit" + suffix + ".safetensors"), metadata=meta)

    # Linear4bit state dicts.
    g = torch.Generator().manual_seed(7)
    w1 = (torch.randn(48, 64, generator=g) * 0.05).to(torch.bfloat16)
    b1 = (torch.randn(48, generator=g) * 0.1).to(torch.bfloat16)
    w2 = (torch.randn(40, 96, generator=g) * 0.05).to(torch.bfloat16)
    b2 = (torch.randn(40, generator=g) * 0.1).to(torch.bfloat16)
    down = bnb.nn.Linear4bit(64, 48, bias=True, compute_dtype=torch.float32, compress_statistics=True,
                             quant_type="nf4")
    down.weight = bnb.nn.Params4bit(w1, requires_grad=False, compress_statistics=True, quant_type="nf4",
                                    blocksize=64)
    down.bias = torch.nn.Parameter(b1, requires_grad=False)
    q_proj = bnb.nn.Linear4bit(96, 40, bias=True, compute_dtype=torch.float32, compress_statistics=False,
                               quant_type="fp4")
    q_proj.weight = bnb.nn.Params4bit(w2, requires_grad=False, compress_statistics=False, quant_type="fp4",
                                      blocksize=64)
    q_proj.bias = torch.nn.Parameter(b2, requires_grad=False)
    down = down.to(dev)
    q_proj = q_proj.to(dev)
    for m in (down, q_proj):
        if not getattr(m.weight, "bnb_quantized", False):
            m.weight = m.weight._quantize(dev)
    sd = {}
    for prefix, m in (("model.layers.0.mlp.down_proj.", down), ("model.layers.0.self_attn.q_proj.", q_proj)):
        for k, v in m.state_dict().items():
            sd[prefix + k] = v.detach().cpu().contiguous()
    save_file(sd, os.path.join(out_dir, "bnb_linear4bit" + suffix + ".safetensors"),
              metadata={"format": "pt", "bitsandbytes": bnb.__version__, "torch": torch.__version__})
    x1 = torch.randn(3, 64, generator=g)
    x2 = torch.randn(3, 96, generator=g)
    with torch.no_grad():
        y1 = down(x1.to(dev)).float().cpu()
        y2 = q_proj(x2.to(dev)).float().cpu()
    io = {"down_proj.weight": w1, "down_proj.bias": b1, "down_proj.x": x1, "down_proj.y": y1,
          "q_proj.weight": w2, "q_proj.bias": b2, "q_proj.x": x2, "q_proj.y": y2}
    if dev == "cuda":
        # One row: bitsandbytes' inference path takes its fused gemv_4bit kernel (compute in the
        # input dtype, so bf16 here, as LLM decoding uses it).
        for short, m, k in (("down_proj", down, 64), ("q_proj", q_proj, 96)):
            m.compute_dtype = torch.bfloat16
            xr = torch.randn(1, k, generator=g).to(torch.bfloat16)
            with torch.no_grad():
                io[short + ".x_row"] = xr
                io[short + ".y_row"] = m(xr.to(dev)).cpu().contiguous()
    save_file(io, os.path.join(out_dir, "bnb_linear4bit_io" + suffix + ".safetensors"),
              metadata={"bitsandbytes": bnb.__version__, "torch": torch.__version__, "device": dev})
    total = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir) if f.endswith(".safetensors"))
    print(f"bitsandbytes {bnb.__version__}, torch {torch.__version__}: {total} bytes of golden files")


if __name__ == "__main__":
    main()
