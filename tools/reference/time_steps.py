"""Times nanoGPT-equivalent training steps in PyTorch, for `sharplm-bench train`'s presets (issue 13's yardstick).

Same shapes and batches as SharpLM's presets: baby (4 layers, 4 heads, 128 wide, context 64, batch 12) and small
(6 layers, 6 heads, 384 wide, context 256, 4 micro-batches of 16, dropout 0.2); vocabulary 83 (moby-dick's characters);
GPT-2 blocks as nanoGPT writes them for PyTorch < 2.0 (explicit causal attention with dropout, tanh GELU, tied head);
full steps: forward, backward, clipping at 1.0, AdamW. bf16 uses torch.autocast("cpu", torch.bfloat16), PyTorch's own
mixed precision (fp32 weights and optimizer). The median of the timed steps after two warm-up steps is reported.

Usage (Debian 12: apt install python3-torch libopenblas0-pthread):
    /usr/bin/python3 tools/reference/time_steps.py [--threads 2] [--presets baby small] [--precisions fp32 bf16]
Prints one JSON object per line: preset, precision, threads, tokens_per_step, seconds_per_step, tokens_per_second.
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    # layers, heads, width, context, micro-batch, micro-batches per step, dropout, timed steps
    "baby": (4, 4, 128, 64, 12, 1, 0.0, 30),
    "small": (6, 6, 384, 256, 16, 4, 0.2, 3),
}
VOCAB = 83


class Block(nn.Module):
    def __init__(self, n_embd, n_head, block, dropout):
        super().__init__()
        self.n_head, self.dropout = n_head, dropout
        self.ln_1, self.ln_2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        self.c_attn, self.attn_proj = nn.Linear(n_embd, 3 * n_embd), nn.Linear(n_embd, n_embd)
        self.c_fc, self.mlp_proj = nn.Linear(n_embd, 4 * n_embd), nn.Linear(4 * n_embd, n_embd)
        self.register_buffer("mask", torch.tril(torch.ones(block, block, dtype=torch.bool)))

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(c // self.n_head)
        att = att.masked_fill(~self.mask[:t, :t], float("-inf")).softmax(-1)
        att = F.dropout(att, self.dropout, self.training)
        y = F.dropout(self.attn_proj((att @ v).transpose(1, 2).reshape(b, t, c)), self.dropout, self.training)
        x = x + y
        h = F.dropout(self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh")), self.dropout, self.training)
        return x + h


class Gpt(nn.Module):
    def __init__(self, n_layer, n_head, n_embd, block, dropout):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(VOCAB, n_embd), nn.Embedding(block, n_embd)
        self.h = nn.ModuleList(Block(n_embd, n_head, block, dropout) for _ in range(n_layer))
        self.ln_f, self.dropout = nn.LayerNorm(n_embd), dropout

    def forward(self, idx, targets):
        x = F.dropout(self.wte(idx) + self.wpe(torch.arange(idx.shape[1])), self.dropout, self.training)
        for blk in self.h:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.T
        return F.cross_entropy(logits.float().view(-1, VOCAB), targets.view(-1))


def measure(preset, precision, threads):
    n_layer, n_head, n_embd, block, batch, micro, dropout, steps = PRESETS[preset]
    torch.manual_seed(1)
    model = Gpt(n_layer, n_head, n_embd, block, dropout)
    model.train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.99))

    def step():
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        for _ in range(micro):
            x = torch.randint(VOCAB, (batch, block))
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = model(x, x.roll(-1, 1))
            (loss / micro).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return time.perf_counter() - start

    step(), step()
    per_step = statistics.median(step() for _ in range(steps))
    tokens = batch * block * micro
    return {
        "preset": preset,
        "precision": precision,
        "threads": threads,
        "torch": torch.__version__,
        "tokens_per_step": tokens,
        "seconds_per_step": per_step,
        "tokens_per_second": tokens / per_step,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--presets", nargs="+", default=["baby", "small"])
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for preset in a.presets:
        for precision in a.precisions:
            print(json.dumps(measure(preset, precision, a.threads)), flush=True)
