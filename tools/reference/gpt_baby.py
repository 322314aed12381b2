"""Independent PyTorch reference for `sharplm train --preset baby` (the yardstick of issue 3).

nanoGPT itself is not reachable from the development machines (no GitHub, no PyPI), so this is a small
re-implementation of the same maths in plain PyTorch: GPT-2 blocks (pre-LayerNorm, causal attention, tanh GELU,
tied head, biases), GPT-2 initialisation, AdamW (weight decay on >=2-D tensors), linear warmup then cosine decay,
gradient clipping, random windows from the same llm.c shards. Batches come from a different random generator than
SharpLM's, so the two losses agree within sampling noise, not bit for bit.

Usage (Debian: apt install python3-torch):
    python3 tools/reference/gpt_baby.py runs/quickstart/data [steps]
"""
import math
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

data_dir = sys.argv[1]
max_steps = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
n_layer, n_head, n_embd, block, batch = 4, 4, 128, 64, 12
lr, min_lr, warmup, beta2, wd, clip = 1e-3, 1e-4, 100, 0.99, 0.1, 1.0
eval_interval, eval_batches = 250, 20
torch.manual_seed(1337)
torch.set_num_threads(2)


def shard(name):
    header = np.fromfile(f"{data_dir}/{name}", dtype=np.int32, count=256)
    assert header[0] == 20240520 and header[1] == 1, "expects llm.c v1 (uint16) shards"
    return np.fromfile(f"{data_dir}/{name}", dtype=np.uint16, offset=1024)[: header[2]].astype(np.int64)


train, val = shard("train_000000.bin"), shard("val_000000.bin")
vocab = int(max(train.max(), val.max())) + 1
import json
vocab = max(vocab, len(json.load(open(f"{data_dir}/tokenizer.json"))["model"]["vocab"]))


def batch_from(data, gen):
    ix = torch.randint(len(data) - block, (batch,), generator=gen)
    x = torch.stack([torch.from_numpy(data[i : i + block]) for i in ix.tolist()])
    y = torch.stack([torch.from_numpy(data[i + 1 : i + 1 + block]) for i in ix.tolist()])
    return x, y


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        self.c_attn, self.attn_proj = nn.Linear(n_embd, 3 * n_embd), nn.Linear(n_embd, n_embd)
        self.c_fc, self.mlp_proj = nn.Linear(n_embd, 4 * n_embd), nn.Linear(4 * n_embd, n_embd)
        self.register_buffer("mask", torch.tril(torch.ones(block, block, dtype=torch.bool)))

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(n_embd, dim=2)
        q, k, v = (z.view(b, t, n_head, c // n_head).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(c // n_head)
        att = att.masked_fill(~self.mask[:t, :t], float("-inf")).softmax(-1)
        x = x + self.attn_proj((att @ v).transpose(1, 2).reshape(b, t, c))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, n_embd), nn.Embedding(block, n_embd)
        self.h = nn.ModuleList(Block() for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif "ln_" in name:
                nn.init.ones_(p)
            else:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith("proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for blk in self.h:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.T
        return F.cross_entropy(logits.view(-1, vocab), targets.view(-1))


def lr_at(step):
    if step < warmup:
        return lr * (step + 1) / (warmup + 1)
    if step >= max_steps:
        return min_lr
    ratio = (step - warmup) / (max_steps - warmup)
    return min_lr + 0.5 * (1 + math.cos(math.pi * ratio)) * (lr - min_lr)


model = Gpt()
decay = [p for p in model.parameters() if p.dim() >= 2]
no_decay = [p for p in model.parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, beta2))
train_gen, eval_gen = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
eval_set = [batch_from(val, eval_gen) for _ in range(eval_batches)]


@torch.no_grad()
def evaluate():
    model.eval()
    loss = sum(model(x, y).item() for x, y in eval_set) / len(eval_set)
    model.train()
    return loss


start = time.time()
print(f"step 0: val loss {evaluate():.4f}", flush=True)
for step in range(max_steps):
    for g in opt.param_groups:
        g["lr"] = lr_at(step)
    x, y = batch_from(train, train_gen)
    loss = model(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    if (step + 1) % eval_interval == 0 or step + 1 == max_steps:
        print(f"step {step + 1}: train loss {loss.item():.4f}, val loss {evaluate():.4f}, {time.time() - start:.0f} s", flush=True)


@torch.no_grad()
def full_val():
    """Loss over the whole validation split in non-overlapping windows, as `sharplm eval` computes it."""
    model.eval()
    total, count = 0.0, 0
    n = (len(val) - 1) // block
    for i in range(0, n, 16):
        starts = range(i * block, min(n, i + 16) * block, block)
        x = torch.stack([torch.from_numpy(val[s : s + block]) for s in starts])
        y = torch.stack([torch.from_numpy(val[s + 1 : s + 1 + block]) for s in starts])
        total += model(x, y).item() * y.numel()
        count += y.numel()
    return total / count


print(f"final: full validation split loss {full_val():.4f}")
