#!/usr/bin/env python3
"""Loads every adapter directory rai wrote (under OUT_DIR) into the golden tiny Llama with HF
PEFT and fails on missing or unexpected keys, or when peft's module outputs differ from the
recorded ones (io.safetensors: the golden outputs for re-saved fixtures, rai's own outputs for
adapters rai created) by more than 1e-5 relative.

usage: check_peft_loads.py GOLDEN_DIR OUT_DIR
"""
import os
import sys
import warnings

import torch
from peft import PeftConfig, PeftModel, PeftType, get_peft_model
from peft.utils import load_peft_weights, set_peft_model_state_dict
from safetensors.torch import load_file
from transformers import LlamaConfig, LlamaForCausalLM

ADAPTER_PARAM_MARKERS = ("lora_", "ia3_", "vera_", "hada_", "lokr_")  # lora_ covers AdaLoRA's lora_E


def base_model(golden):
    cfg = LlamaConfig.from_json_file(os.path.join(golden, "base", "config.json"))
    model = LlamaForCausalLM(cfg).eval()
    model.load_state_dict(load_file(os.path.join(golden, "base", "model.safetensors")))
    return model


def check_dir(golden, d, name):
    failures = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = PeftModel.from_pretrained(base_model(golden), d).eval()
    for w in caught:
        text = str(w.message)
        if "missing" in text.lower() or "unexpected" in text.lower():
            failures.append(f"{name}: peft warned: {text}")
    # Explicit key check on a second load. AdaLoRA: peft shrinks the modules by rank_pattern on
    # every state-dict load, so the second load goes into a fresh (unshrunk) model.
    target = model
    if model.peft_config["default"].peft_type == PeftType.ADALORA:
        target = get_peft_model(base_model(golden), PeftConfig.from_pretrained(d)).eval()
    result = set_peft_model_state_dict(target, load_peft_weights(d))
    if result.unexpected_keys:
        failures.append(f"{name}: unexpected keys {sorted(result.unexpected_keys)}")
    # Per-module vera_A/vera_B are references to the shared base_model.vera_A/B buffers: peft
    # lists them as missing for its own files too.
    missing = [k for k in result.missing_keys if any(m in k for m in ADAPTER_PARAM_MARKERS)
               and not (".vera_A." in k or ".vera_B." in k)]
    if missing:
        failures.append(f"{name}: missing adapter keys {sorted(missing)}")
    io_path = os.path.join(d, "io.safetensors")
    if not os.path.exists(io_path):
        io_path = os.path.join(golden, name, "io.safetensors")
    io = load_file(io_path)
    modules = dict(model.named_modules())
    checked = 0
    for key in io:
        if not key.endswith(".x"):
            continue
        mod = key[:-2]
        module = modules.get("base_model.model." + mod)
        if module is None:
            failures.append(f"{name}: module {mod} not found")
            continue
        with torch.no_grad():
            y = module(io[key])
        ref = io[mod + ".y"]
        err = (y - ref).abs().max().item()
        tol = 1e-5 * max(1.0, ref.abs().max().item())
        if err > tol:
            failures.append(f"{name}: {mod}: max |peft - recorded| = {err:.3g} > {tol:.3g}")
        checked += 1
    print(f"{name}: {checked} modules match, no missing or unexpected keys" if not failures else f"{name}: FAILED")
    return failures


def check_merged(golden, out):
    """rai merge output against peft's merge_and_unload of the same golden adapter."""
    failures = []
    merged_dir = os.path.join(out, "merged")
    if not os.path.isdir(merged_dir):
        return failures
    for f in sorted(os.listdir(merged_dir)):
        tuner = f[: -len(".safetensors")]
        ours = load_file(os.path.join(merged_dir, f))
        model = PeftModel.from_pretrained(base_model(golden), os.path.join(golden, tuner)).eval()
        theirs = {k: v for k, v in model.merge_and_unload().state_dict().items()}
        if set(ours) != set(theirs):
            failures.append(f"merged/{tuner}: tensor names differ: {sorted(set(ours) ^ set(theirs))[:5]}")
            continue
        worst = max((ours[k].float() - theirs[k].float()).abs().max().item() / max(1.0, theirs[k].abs().max().item())
                    for k in theirs)
        if worst > 1e-5:
            failures.append(f"merged/{tuner}: max relative difference to peft merge_and_unload {worst:.3g}")
        print(f"merged/{tuner}: rai merge == peft merge_and_unload (max rel diff {worst:.2g})")
    return failures


def main(golden, out):
    failures = check_merged(golden, out)
    names = sorted(n for n in os.listdir(out) if os.path.isdir(os.path.join(out, n)) and n != "merged")
    if not names:
        print("no adapter directories found")
        return 1
    for n in names:
        failures += check_dir(golden, os.path.join(out, n), n)
    for f in failures:
        print("FAIL:", f)
    print(f"{len(names) - len({f.split(':')[0] for f in failures})} passed, {len({f.split(':')[0] for f in failures})} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
