#!/usr/bin/env bash
# Data-parallel training throughput on this machine: the same run on 1, 2 and 4 MPI ranks (per-rank batch fixed, so the
# global batch grows with the ranks), each rank with its share of the cores. Prints tokens/s, the ratio to one process
# using every core, and the share of wall time spent in gradient allreduces (waiting for the slowest rank included).
#   tools/distributed/scaling.sh DATA [PRESET] [STEPS] [BATCH]      e.g. tools/distributed/scaling.sh runs/moby-char small 20 8
# Needs MPICH (apt-get install mpich) and a Release build: dotnet build -c Release src/SharpLM.Cli
set -euo pipefail
data=${1:?usage: scaling.sh DATA [PRESET] [STEPS] [BATCH]}
preset=${2:-small}; steps=${3:-20}; batch=${4:-8}
root="$(cd "$(dirname "$0")/../.." && pwd)"
sharplm=(dotnet "$root/src/SharpLM.Cli/bin/Release/net10.0/sharplm.dll")
cores=$(nproc)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT   # the script's own scratch folder
common=(train --data "$data" --preset "$preset" --max-steps "$steps" --batch-size "$batch" --eval-interval 100000 --eval-batches 1 --json)
report() { # name ranks json baseline
  python3 - "$@" <<'PY'
import json, sys
name, ranks, path, base = sys.argv[1:5]
r = json.load(open(path))
tps = r["tokensPerSecond"]
share = (r.get("allreduceSeconds") or 0) / r["seconds"]
print(f"| {name} | {ranks} | {tps:,.0f} | {tps / float(base):.2f}x | {share:.1%} |")
PY
}
echo "| run | ranks x threads | tokens/s | vs 1 process | allreduce share of wall time |"
echo "|---|---|---|---|---|"
"${sharplm[@]}" "${common[@]}" --output "$scratch/p1" --threads "$cores" > "$scratch/p1.json" 2>/dev/null
base=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tokensPerSecond"])' "$scratch/p1.json")
report "$preset, 1 process" "1 x $cores" "$scratch/p1.json" "$base"
for n in 2 4; do
  mpiexec -n "$n" "${sharplm[@]}" "${common[@]}" --output "$scratch/p$n" --distributed mpi > "$scratch/p$n.json" 2>/dev/null
  threads=$(( cores / n > 0 ? cores / n : 1 ))
  report "$preset, $n ranks" "$n x $threads" "$scratch/p$n.json" "$base"
done
