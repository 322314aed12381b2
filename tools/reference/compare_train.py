"""SharpLM vs PyTorch training throughput, measured back to back with the same threads, shapes and batches.

Runs `sharplm-bench train` (fp32 and bf16) and then time_steps.py (this folder) for the baby and small presets, and
prints SharpLM / PyTorch tokens/s for each preset and precision. Debian's OpenBLAS (pthread build) starts its own
threads beside PyTorch's, which oversubscribes the cores (baby fp32 measured at half speed), so PyTorch runs twice,
with OpenBLAS's default threads and with OPENBLAS_NUM_THREADS=1, and its faster figure of each row is the one compared.

Usage (from the repository root, after `apt install python3-torch libopenblas0-pthread`):
    /usr/bin/python3 tools/reference/compare_train.py [--threads 2]
"""
import argparse
import json
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()

bench = subprocess.run(
    ["dotnet", "run", "-c", "Release", "--project", os.path.join(root, "bench", "SharpLM.Bench"), "--",
     "train", "--preset", "baby", "small", "--threads", str(a.threads), "--precision", "fp32", "bf16", "--json"],
    check=True, capture_output=True, text=True,
)
sharplm = {(r["preset"], r["precision"]): r["tokensPerSecond"] for r in json.loads(bench.stdout)["runs"]}
pytorch = {}
version = ""
for blas_threads in (None, "1"):
    env = dict(os.environ)
    if blas_threads is not None:
        env["OPENBLAS_NUM_THREADS"] = blas_threads
    torch_run = subprocess.run(
        [sys.executable, os.path.join(here, "time_steps.py"), "--threads", str(a.threads)],
        check=True, capture_output=True, text=True, env=env,
    )
    for line in torch_run.stdout.splitlines():
        r = json.loads(line)
        key = (r["preset"], r["precision"])
        label = f"OPENBLAS_NUM_THREADS={blas_threads}" if blas_threads else "OpenBLAS default threads"
        if key not in pytorch or r["tokens_per_second"] > pytorch[key][0]:
            pytorch[key] = (r["tokens_per_second"], label)
        version = r["torch"]
print(f"| preset | precision | SharpLM tokens/s | PyTorch {version} tokens/s (its faster setting) | SharpLM / PyTorch |")
print("|---|---|---|---|---|")
for key in sorted(sharplm):
    if key in pytorch:
        tps, label = pytorch[key]
        print(f"| {key[0]} | {key[1]} | {sharplm[key]:,.0f} | {tps:,.0f} ({label}) | {sharplm[key] / tps:.2f}x |")
