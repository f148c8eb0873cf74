#!/usr/bin/env python3
"""Generates the golden trace of PEFT's AdaLoRA budget allocator and orthogonal regulariser that
tests/adapters/test_adalora_allocator.cpp replays in rai.

The tiny Llama of make_peft_golden.py gets an AdaLoRA adapter (init_r 6, target_r 3 over q_proj,
v_proj, down_proj; tinit 1, tfinal 2, deltaT 2, total_step 9) with seeded non-zero values. Then
  * the orthogonal regulariser: its value and its gradient on lora_A / lora_B, as the difference of
    AdaLoraModel.forward's loss (and gradients) with orth_reg_weight 0.5 and 0 (the model is called
    through model.base_model: PeftModelForCausalLM.forward of peft 0.21.2 bypasses the term);
  * 12 training steps (seeded tokens, SGD lr 0.05), each: loss.backward(), optimizer.step(),
    then peft's update_and_allocate(step). Recorded per step and module, before the call: every
    lora_A / lora_E / lora_B value and gradient; after it: lora_E, the allocator's EMAs
    (exp_avg_ipt, exp_avg_unc; absent after the final step's reset), the rank pattern (keep,
    1/0) and the budget of peft's schedule. Steps 10 and 11 run past total_step - tfinal = 7.
  * peft's save_pretrained of the trained adapter (tensors pruned to the rank pattern).

Written into adalora_allocator/ beside this script: trace.safetensors, saved/ (peft's directory).
Run: /work/peft-venv/bin/python tests/adapters/golden/make_adalora_allocator_golden.py
"""
import json
import os
import sys

import peft
import torch
from peft import AdaLoraConfig, get_peft_model
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_peft_golden import randomize_adapter, tiny_llama  # noqa: E402

STEPS = 12
CONFIG = dict(init_r=6, target_r=3, lora_alpha=12, tinit=1, tfinal=2, deltaT=2, total_step=9, beta1=0.85,
              beta2=0.85, orth_reg_weight=0.5, target_modules=["q_proj", "v_proj", "down_proj"])


def module_of(name):
    """'base_model.model.model.layers.0.self_attn.q_proj.lora_A.default' -> (module, 'lora_A')."""
    parts = name.split(".")
    kind = next(p for p in parts if p in ("lora_A", "lora_B", "lora_E"))
    i = parts.index(kind)
    return ".".join(parts[2:i]), kind


def lora_params(model):
    return [(n, p) for n, p in model.named_parameters() if any(k in n for k in ("lora_A", "lora_B", "lora_E"))]


def main():
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "adalora_allocator")
    os.makedirs(out_dir, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    _, base = tiny_llama()
    pcfg = AdaLoraConfig(**CONFIG)
    model = get_peft_model(base, pcfg)
    randomize_adapter(model, 777)
    model.train()
    trace = {}
    gen = torch.Generator().manual_seed(778)

    # The orthogonal regulariser: peft adds it to outputs.loss in forward (training mode).
    ids = torch.randint(0, 128, (2, 8), generator=gen)
    grads = {}
    losses = {}
    for w in (0.5, 0.0):
        pcfg.orth_reg_weight = w
        model.zero_grad()
        loss = model.base_model(input_ids=ids, labels=ids).loss
        loss.backward()
        losses[w] = loss.detach().double()
        grads[w] = {n: p.grad.detach().double().clone() for n, p in lora_params(model)}
    pcfg.orth_reg_weight = 0.5
    trace["orth.loss"] = (losses[0.5] - losses[0.0]).float().reshape(1)
    for n, p in lora_params(model):
        mod, kind = module_of(n)
        trace[f"orth.{mod}.{kind}.value"] = p.detach().clone()
        if kind != "lora_E":
            trace[f"orth.{mod}.{kind}.grad"] = (grads[0.5][n] - grads[0.0][n]).float()
    model.zero_grad()

    opt = torch.optim.SGD([p for _, p in lora_params(model)], lr=0.05)
    alloc = model.base_model.rankallocator
    for step in range(STEPS):
        ids = torch.randint(0, 128, (2, 8), generator=gen)
        model.base_model(input_ids=ids, labels=ids).loss.backward()  # with the orthogonal regulariser
        opt.step()
        for n, p in lora_params(model):
            mod, kind = module_of(n)
            trace[f"step{step}.{mod}.{kind}.value"] = p.detach().clone()
            trace[f"step{step}.{mod}.{kind}.grad"] = p.grad.detach().clone()
        budget, _ = alloc.budget_schedule(step)
        model.base_model.update_and_allocate(step)
        trace[f"step{step}.budget"] = torch.tensor([float(budget)])
        for n, p in lora_params(model):
            mod, kind = module_of(n)
            if kind == "lora_E":
                trace[f"step{step}.{mod}.lora_E.after"] = p.detach().clone()
            inner = n[len("base_model.model."):]  # the allocator names parameters of the inner model
            if inner in alloc.exp_avg_ipt:
                trace[f"step{step}.{mod}.{kind}.ema_ipt"] = alloc.exp_avg_ipt[inner].clone()
                trace[f"step{step}.{mod}.{kind}.ema_unc"] = alloc.exp_avg_unc[inner].clone()
        rp = pcfg.rank_pattern or {}
        for key, keep in rp.items():
            mod = key.split(".lora_E")[0]
            mod = mod[len("base_model.model."):] if mod.startswith("base_model.model.") else mod
            trace[f"step{step}.{mod}.keep"] = torch.tensor([1.0 if k else 0.0 for k in keep])
        opt.zero_grad()

    save_file({k: v.contiguous() for k, v in trace.items()}, os.path.join(out_dir, "trace.safetensors"),
              metadata={"format": "pt", "config": json.dumps(CONFIG), "steps": str(STEPS)})
    model.save_pretrained(os.path.join(out_dir, "saved"))
    readme = os.path.join(out_dir, "saved", "README.md")
    if os.path.exists(readme):
        os.remove(readme)
    with open(os.path.join(out_dir, "versions.json"), "w") as f:
        json.dump({"torch": torch.__version__, "peft": peft.__version__}, f, indent=1)
        f.write("\n")
    print("wrote", out_dir, len(trace), "tensors")


if __name__ == "__main__":
    main()
