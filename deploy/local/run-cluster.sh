#!/usr/bin/env bash
# Starts a DistTrainer cluster on 127.0.0.1 as separate processes: a coordinator (the seed), a parameter server and
# N workers; waits for the job, prints its JSON result, and stops every process it started on any exit path.
#
#   deploy/local/run-cluster.sh --workers N [--port P] [train options...]
#
#   --workers N     worker processes (default 2)
#   --port P        the coordinator's (seed's) port (default 4053; 0 is not allowed: the others need to know it)
#   train options   passed to the coordinator (--epochs, --batch, --hidden, --lr, --seed, --mode, ...);
#                   --data, --label, --task and --threads go to the workers too, since they load their own data;
#                   the coordinator's run folder is --out DIR (default runs/<yyyyMMdd-HHmmss> in the current directory).
#
# Environment: DISTTRAINER  the command to run (default: build src/DistTrainer.Cli in Release and use its output)
#              LOG_DIR      where each node's stderr goes (default: a new temporary directory)
# Exit code: the coordinator's (0 when the job finished and every node left the cluster).
set -euo pipefail

workers=2
port=4053
coordinator_args=()
shared_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --workers) workers="$2"; shift 2 ;;
    --workers=*) workers="${1#*=}"; shift ;;
    --port) port="$2"; shift 2 ;;
    --port=*) port="${1#*=}"; shift ;;
    --data|--label|--task|--threads|--job) shared_args+=("$1" "$2"); shift 2 ;;
    --data=*|--label=*|--task=*|--threads=*|--job=*) shared_args+=("$1"); shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) coordinator_args+=("$1"); shift ;;
  esac
done
if ! [[ "$workers" =~ ^[1-9][0-9]*$ ]]; then echo "error: --workers expects a positive whole number, got \"$workers\"" >&2; exit 2; fi
if ! [[ "$port" =~ ^[1-9][0-9]*$ ]]; then echo "error: --port expects a port number 1..65535, got \"$port\"" >&2; exit 2; fi

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ -z "${DISTTRAINER:-}" ]]; then
  dotnet build "$repo/src/DistTrainer.Cli" -c Release -nologo -v quiet >&2
  DISTTRAINER="$repo/src/DistTrainer.Cli/bin/Release/net10.0/disttrainer"
fi
read -r -a run <<< "$DISTTRAINER"
log_dir="${LOG_DIR:-$(mktemp -d -t disttrainer-cluster.XXXXXX)}"
mkdir -p "$log_dir"
result="$log_dir/result.json"
seed="akka.tcp://disttrainer@127.0.0.1:$port"
common=(--config "$repo/cluster.hocon" --host 127.0.0.1 --seed-node "$seed")

pids=()
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive -eq 0 ]] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "logs: $log_dir" >&2
"${run[@]}" node "${common[@]}" --role coordinator --port "$port" --min-workers "$workers" --result "$result" \
  "${shared_args[@]}" "${coordinator_args[@]}" 2> "$log_dir/coordinator.log" &
coordinator=$!
pids+=("$coordinator")
"${run[@]}" node "${common[@]}" --role parameter-server --port 0 2> "$log_dir/parameter-server.log" > /dev/null &
pids+=($!)
for i in $(seq 1 "$workers"); do
  "${run[@]}" node "${common[@]}" --role worker --port 0 "${shared_args[@]}" 2> "$log_dir/worker-$i.log" > /dev/null &
  pids+=($!)
done
echo "started coordinator (pid $coordinator, $seed), parameter server and $workers worker(s)" >&2

set +e
wait "$coordinator"
code=$?
set -e
grep -E '^(epoch|done)' "$log_dir/coordinator.log" >&2 || true
if [[ $code -ne 0 || ! -s "$result" ]]; then
  echo "error: the coordinator exited with code $code; see $log_dir" >&2
  exit $(( code == 0 ? 1 : code ))
fi
# Give the other nodes the moment they need to finish leaving, then the trap stops any straggler.
for _ in $(seq 1 50); do
  alive=0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [[ $alive -eq 0 ]] && break
  sleep 0.2
done
cat "$result"
