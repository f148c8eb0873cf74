#!/usr/bin/env python3
"""Generates the HF PEFT golden fixtures that rai's adapter tests load.

A tiny Llama (hidden 64, intermediate 128, 1 layer, 4 heads, 2 KV heads, vocab 128) is built
with transformers on the CPU from a seeded config. For each tuner (LoRA, rsLoRA+DoRA, IA3, VeRA,
LoHa, LoKr) peft wraps it, every adapter parameter is set to non-zero seeded values, and peft
saves the adapter directory. For every adapted linear module a seeded input x [3, in] is run
through the peft-wrapped module in eval mode and the output recorded.

AdaLoRA additionally runs peft's own RankAllocator: after the seeded values are set, a few
training steps on seeded tokens (loss with the orthogonal regulariser, backward,
update_and_allocate) reach the final budget, so the saved rank_pattern masks singular values
and peft saves the pruned (smaller) lora_A/lora_E/lora_B.

Layout written (into the directory of this script unless --out is given):
  base/model.safetensors       the tiny Llama's state dict (fp32)
  base/config.json             its transformers config
  <tuner>/adapter_config.json  written by peft
  <tuner>/adapter_model.safetensors
  <tuner>/io.safetensors       "<module>.x" and "<module>.y" per adapted module
  versions.json                torch / transformers / peft / safetensors versions

Run: /work/peft-venv/bin/python tests/adapters/golden/make_peft_golden.py [--only adalora ...]
"""
import argparse
import json
import os

import peft
import safetensors
import torch
import transformers
from peft import AdaLoraConfig, IA3Config, LoHaConfig, LoKrConfig, LoraConfig, VeraConfig, get_peft_model
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def tiny_llama():
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                      tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg).eval()
    return cfg, model


def randomize_adapter(model, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.requires_grad:
                if "ia3_l" in name or "magnitude" in name or "vera_lambda" in name:
                    p.copy_(1.0 + 0.25 * torch.randn(p.shape, generator=gen))
                else:
                    p.copy_(0.2 * torch.randn(p.shape, generator=gen))


def record_io(model, seed):
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, module in model.named_modules():
        if not hasattr(module, "base_layer") or not isinstance(module.base_layer, torch.nn.Linear):
            continue
        mod = name[len("base_model.model."):] if name.startswith("base_model.model.") else name
        x = torch.randn(3, module.base_layer.in_features, generator=gen)
        with torch.no_grad():
            y = module(x)
        out[mod + ".x"] = x.contiguous()
        out[mod + ".y"] = y.contiguous()
    return out


def allocate_adalora_ranks(model, cfg, seed):
    """Runs peft's RankAllocator to the end of its budgeting phase (step total_step - tfinal),
    which sets cfg.rank_pattern and zeroes the pruned singular values. No optimizer step: the
    importance scores come from the gradients of the seeded values."""
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(cfg.total_step - cfg.tfinal + 1):
        ids = torch.randint(0, 128, (2, 8), generator=gen)
        model(input_ids=ids, labels=ids).loss.backward()
        model.base_model.update_and_allocate(step)
        model.zero_grad()
    assert cfg.rank_pattern, "the allocator produced no rank_pattern"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--only", nargs="*", help="regenerate these tuners only (default: all)")
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)

    cfg, base = tiny_llama()
    os.makedirs(os.path.join(args.out, "base"), exist_ok=True)
    save_file({k: v.contiguous() for k, v in base.state_dict().items()},
              os.path.join(args.out, "base", "model.safetensors"), metadata={"format": "pt"})
    cfg.to_json_file(os.path.join(args.out, "base", "config.json"))

    configs = {
        "lora": LoraConfig(r=8, lora_alpha=16, target_modules=LINEAR, lora_dropout=0.1),
        "dora": LoraConfig(r=4, lora_alpha=8.0, use_rslora=True, use_dora=True,
                           target_modules=["q_proj", "v_proj", "down_proj"],
                           rank_pattern={"down_proj": 2}, alpha_pattern={"v_proj": 6}),
        "ia3": IA3Config(target_modules=["k_proj", "v_proj", "down_proj"], feedforward_modules=["down_proj"]),
        "vera": VeraConfig(r=16, target_modules=["q_proj", "v_proj"], save_projection=True),
        "loha": LoHaConfig(r=4, alpha=8, target_modules=["q_proj", "up_proj"]),
        "lokr": LoKrConfig(r=8, alpha=4, target_modules=["q_proj", "down_proj"]),
        # init_r 6 over 3 modules, final budget target_r * 3 = 9 of 18 singular values.
        "adalora": AdaLoraConfig(init_r=6, target_r=3, lora_alpha=12, tinit=0, tfinal=1, deltaT=1, total_step=3,
                                 beta1=0.85, beta2=0.85, orth_reg_weight=0.5,
                                 target_modules=["q_proj", "v_proj", "down_proj"]),
    }
    for seed, (tuner, pcfg) in enumerate(configs.items(), start=1):
        if args.only and tuner not in args.only:
            continue
        _, model = tiny_llama()
        model = get_peft_model(model, pcfg)
        randomize_adapter(model, 100 + seed)
        if tuner == "adalora":
            allocate_adalora_ranks(model, pcfg, 300 + seed)
        model.eval()
        d = os.path.join(args.out, tuner)
        model.save_pretrained(d)
        save_file(record_io(model, 200 + seed), os.path.join(d, "io.safetensors"), metadata={"format": "pt"})
        # peft also writes a README.md model card; the fixture does not need it.
        readme = os.path.join(d, "README.md")
        if os.path.exists(readme):
            os.remove(readme)

    with open(os.path.join(args.out, "versions.json"), "w") as f:
        json.dump({"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
                   "safetensors": safetensors.__version__}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
