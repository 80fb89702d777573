#!/usr/bin/env python3
"""Hugging Face's GPTJForCausalLM trained on the GPU, the peer of `cook train` in bench/train_gpu.sh.

Random token ids (speed does not depend on the text), bf16 autocast over fp32 weights, fused AdamW,
the same shape as Cook's `gpt-j-1.3b` preset unless told otherwise. Prints one JSON line: tokens/s
over the timed steps, model-FLOPs utilisation against --peak-tflops, peak GPU memory.

  python3 bench/train_hf_gptj.py [--compile] [--steps 10] [--batch 8] [--seq 1024]
"""
import argparse
import json
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--d-model", type=int, default=2048)
    p.add_argument("--n-layer", type=int, default=24)
    p.add_argument("--n-head", type=int, default=16)
    p.add_argument("--rotary-dim", type=int, default=64)
    p.add_argument("--d-ff", type=int, default=8192)
    p.add_argument("--vocab", type=int, default=50400)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--steps", type=int, default=10, help="timed steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the GPU (H100/H200 SXM: 989)")
    return p.parse_args(argv)


def model_flops_per_token(a, params_without_embedding):
    # 6 N for the weights' forward and backward, plus the attention scores and values (12 L d T).
    return 6 * params_without_embedding + 12 * a.n_layer * a.d_model * a.seq


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    import torch
    from transformers import GPTJConfig, GPTJForCausalLM

    if not torch.cuda.is_available():
        print("train_hf_gptj.py: no CUDA device", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    config = GPTJConfig(vocab_size=a.vocab, n_positions=max(2048, a.seq), n_embd=a.d_model, n_layer=a.n_layer,
                        n_head=a.n_head, rotary_dim=a.rotary_dim, n_inner=a.d_ff, use_cache=False,
                        attn_implementation="sdpa")
    model = GPTJForCausalLM(config).cuda().train()
    params = sum(p.numel() for p in model.parameters())
    embedding = model.transformer.wte.weight.numel()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01, fused=True)
    step_fn = torch.compile(model) if a.compile else model
    ids = torch.randint(0, a.vocab, (a.batch, a.seq), device="cuda")

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = step_fn(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    t0 = time.time()
    for _ in range(a.warmup):
        step()
    torch.cuda.synchronize()
    warmup_s = time.time() - t0
    torch.cuda.reset_peak_memory_stats()
    start = time.time()
    for _ in range(a.steps):
        loss = step()
    torch.cuda.synchronize()
    elapsed = time.time() - start
    tokens_per_s = a.batch * a.seq * a.steps / elapsed
    flops = model_flops_per_token(a, params - embedding) * tokens_per_s
    print(json.dumps({
        "who": "hf-gptj" + ("-compile" if a.compile else "-eager"),
        "torch": torch.__version__, "gpu": torch.cuda.get_device_name(),
        "params": params, "batch": a.batch, "seq": a.seq, "steps": a.steps,
        "tokens_per_s": round(tokens_per_s, 1), "mfu": round(flops / (a.peak_tflops * 1e12), 4),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        "warmup_s": round(warmup_s, 1), "last_loss": round(float(loss), 4),
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
