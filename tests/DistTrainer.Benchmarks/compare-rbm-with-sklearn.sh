#!/usr/bin/env bash
# Measures the RBM fit of `disttrainer train --model rbm` against scikit-learn's BernoulliRBM (rbm_sklearn.py) in the
# same run, alternating the two so both see the same machine load, and prints each pair's ratio of fit times.
# Both: digits fixed split, min-max scaling, 100 hidden units, lr 0.06, 20 epochs, batch 10. Ours is `train_seconds`
# of the --json summary: the optimizer steps of a fresh process (JIT included), without the per-epoch metrics.
#   usage: tests/DistTrainer.Benchmarks/compare-rbm-with-sklearn.sh [PAIRS]   (needs apt-get install -y python3-sklearn)
set -euo pipefail
pairs=${1:-3}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
data=${DIGITS_CSV:-$root/src/DistTrainer.Numerics/Data/digits.csv}  # the embedded copy `train` uses
dotnet build "$root/src/DistTrainer.Cli" -c Release -v quiet -nologo >/dev/null
cli="$root/src/DistTrainer.Cli/bin/Release/net10.0/disttrainer.dll"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for ((i = 1; i <= pairs; i++)); do
  peer=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$here/rbm_sklearn.py" "$data" "$i" | grep RESULT)
  ours=$(dotnet "$cli" train --model rbm --epochs 20 --workers 0 --seed "$i" --json --quiet --out "$out/run$i" | tail -1)
  echo "$peer"
  echo "$ours"
  python3 - "$peer" "$ours" <<'PY'
import json, re, sys
peer = float(re.search(r"fit ([0-9.]+) s", sys.argv[1]).group(1))
ours = json.loads(sys.argv[2])
print(f"pair: disttrainer fit {ours['train_seconds']:.3f} s (test accuracy {ours['test_accuracy']:.4f}, pll {ours['pseudo_log_likelihood']:.2f})"
      f" / scikit-learn fit {peer:.3f} s = {ours['train_seconds'] / peer:.2f}x the time")
PY
done
