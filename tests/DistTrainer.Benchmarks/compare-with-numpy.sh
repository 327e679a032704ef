#!/usr/bin/env bash
# Measures `disttrainer bench mlp` against the numpy peer (shared/peers/mlp_numpy.py) in the same run, alternating
# the two so that both see the same machine load, and prints each pair's ratio.
#   usage: tests/DistTrainer.Benchmarks/compare-with-numpy.sh [THREADS] [PAIRS]
# Needs Debian's python3-numpy and libopenblas0-pthread (apt-get install -y python3-numpy libopenblas0-pthread).
set -euo pipefail
threads=${1:-1}
pairs=${2:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
peer=${PEERS_DIR:-$root/../shared/peers}/mlp_numpy.py
dotnet build "$root/src/DistTrainer.Cli" -c Release -v quiet -nologo >/dev/null
cli="$root/src/DistTrainer.Cli/bin/Release/net10.0/disttrainer.dll"
for ((i = 1; i <= pairs; i++)); do
  # OpenBLAS picks its own kernel only when the environment does not force an older one.
  numpy=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$threads" /usr/bin/python3 "$peer" | grep RESULT)
  ours=$(dotnet "$cli" bench mlp --hidden 256,128 --inputs 784 --classes 10 --batch 128 --threads "$threads" --json)
  echo "$numpy"
  echo "$ours"
  python3 - "$numpy" "$ours" <<'PY'
import json, re, sys
numpy = float(re.search(r"median (\d+) samples/s", sys.argv[1]).group(1))
ours = json.loads(sys.argv[2])["samples_per_second"]
print(f"pair: disttrainer {ours:.0f} / numpy {numpy:.0f} samples/s = {ours / numpy:.2f}x")
PY
done
