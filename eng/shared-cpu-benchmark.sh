#!/usr/bin/env bash
# Training beside a CPU-bound neighbour (issue 19, part 5): one teacher epoch of the sample on 1,000 images, alone and next to a
# busy-looping process, with this library's default (OMP_WAIT_POLICY=PASSIVE, set when the library loads), libgomp's own default
# (spin 300,000 iterations before sleeping: GOMP_SPINCOUNT=300000, which the library leaves alone as the user's choice), and one thread.
# Usage: bash eng/shared-cpu-benchmark.sh [EPOCH_ROWS]   (builds the sample first; about 2 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000}
dotnet build src/Samples -c Release -v q -nologo >/dev/null
sample=src/Samples/bin/Release/net10.0/Microsoft.ML.Distillation.Samples

echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(date -u +%F)"
echo "command: bash eng/shared-cpu-benchmark.sh $rows"
run() {   # label, env...
  local label=$1; shift
  local start end
  start=$(date +%s.%N)
  env "$@" "$sample" --epochs 1 --train-rows "$rows" --test-rows 200 >/dev/null
  end=$(date +%s.%N)
  printf '| %s | %s | %.1f s |\n' "$neighbour" "$label" "$(echo "$end - $start" | bc)"
}
echo
echo "| neighbour | OpenMP setting | wall time (teacher epoch on $rows images + evaluation) |"
echo "| --- | --- | --- |"
neighbour=none
run "library default (PASSIVE)" X=1
run "libgomp default (GOMP_SPINCOUNT=300000)" GOMP_SPINCOUNT=300000
run "one thread (OMP_NUM_THREADS=1)" OMP_NUM_THREADS=1
neighbour="one busy process"
sh -c 'while :; do :; done' &
busy=$!
trap 'kill $busy 2>/dev/null || true' EXIT
run "library default (PASSIVE)" X=1
run "libgomp default (GOMP_SPINCOUNT=300000)" GOMP_SPINCOUNT=300000
run "one thread (OMP_NUM_THREADS=1)" OMP_NUM_THREADS=1
