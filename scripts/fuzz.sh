#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS and prints, per target: executions, executions per second,
# crashes (crash, hang and out-of-memory inputs saved), and the corpus size. Exit status 1 if any
# target found something; the inputs are in WORK/artifacts/<target>/.
# usage: scripts/fuzz.sh FUZZ_BIN_DIR WORK_DIR DATA_DIR SECONDS TARGET...
set -uo pipefail
bin=$1 work=$2 data=$3 seconds=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/fuzz_seeds.sh" "$bin" "$work/seeds" "$data" "$@" || exit 1

# Limits: an input taking over 10 s is a hang; a process over 2 GiB, or one allocation over 256 MiB
# (more than any input here justifies: the readers' own caps are 64 MiB inflated IDX, the fuzz inputs
# a few KiB), is an out-of-memory bug. Leak checks are off: the Swift runtime's caches read as leaks.
options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 -max_len=65536
         -print_final_stats=1 -detect_leaks=0)
# Crashes go to libFuzzer, which saves the input at once, not to the Swift runtime's backtracer.
export SWIFT_BACKTRACE=enable=no
failed=0
rows=()
for target in "$@"; do
  corpus="$work/corpus/$target" artifacts="$work/artifacts/$target/"
  mkdir -p "$corpus" "$artifacts"
  log="$work/$target.log"
  start=$(date +%s)
  "$bin/$target" "${options[@]}" -artifact_prefix="$artifacts" "$corpus" "$work/seeds/$target" > "$log" 2>&1
  status=$?
  wall=$(( $(date +%s) - start ))
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  crashes=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
  corpus_files=$(find "$corpus" -type f | wc -l)
  rows+=("$(printf '%-18s %6ss %12s %9s %8s %8s' "$target" "$wall" "${executions:-?}" "${rate:-?}" "$crashes" "$corpus_files")")
  if [ "$status" != 0 ] || [ "$crashes" != 0 ]; then
    failed=1
    echo "fuzz: $target found a problem (exit $status); last lines of $log:" >&2
    grep -E 'ERROR|fuzz property failed|Fatal error|SUMMARY|Test unit written' "$log" | tail -8 >&2
  fi
done
printf '%-18s %7s %12s %9s %8s %8s\n' target wall executions exec/s crashes corpus
printf '%s\n' "${rows[@]}"
exit $failed
