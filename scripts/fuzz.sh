#!/usr/bin/env bash
# scripts/fuzz.sh TARGET|all SECONDS: runs a libFuzzer target of fuzz/ for
# SECONDS (each, for `all`), then prints its executions, coverage (cov: edges,
# ft: features), corpus size and the crashes it found.
#
# The fuzzers come from a FLIGHTLLM_FUZZ build (scripts/bootstrap.sh
# sanitize builds one in build-sanitize; BUILD_DIR overrides). Each target
# reads the committed seeds (fuzz/corpus/TARGET, never written) and keeps
# what it finds in $FUZZ_WORK/TARGET/corpus (default BUILD_DIR/fuzz-work), so
# a second run continues where the first stopped; crashing, leaking and slow
# inputs are written to $FUZZ_WORK/TARGET/crashes. Exit status 1 when any
# target found something in this run.
#
# FUZZ_RUNS=N also stops each target after N executions (libFuzzer's -runs:
# issue 17's long runs ask for 1M executions, or 30 minutes where a target
# is slow: FUZZ_RUNS=1000000 scripts/fuzz.sh all 1800).
#
# FUZZ_JOBS=N runs N targets at a time (default 1; CI runs 2 on its 2
# cores: each target still gets SECONDS of one core); the summaries are
# printed in target order once a target ends.
#
# Reproduce a finding: BUILD_DIR/fuzz/fuzz-TARGET FILE
# Targets: onnx-proto-raise onnx-text onnx-external-data flb-runtime
#          target-json tokenizer-json
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
targets=(onnx-proto-raise onnx-text onnx-external-data flb-runtime target-json tokenizer-json)
if [ $# -ne 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 TARGET|all SECONDS   (targets: ${targets[*]})" >&2
  exit 2
fi
build=${BUILD_DIR:-build-sanitize}
case "$build" in /*) ;; *) build=$root/$build ;; esac
work=${FUZZ_WORK:-$build/fuzz-work}
if [ "$1" = all ]; then
  selected=("${targets[@]}")
else
  selected=("$1")
fi

dict_of() {
  case "$1" in
    onnx-text|target-json|tokenizer-json) echo json ;;  # text: JSON tokens help ONNX text too
    flb-runtime) echo flb ;;
    *) echo onnx ;;
  esac
}

# run_target TARGET SECONDS: one fuzzing run; its summary goes to
# $work/TARGET/summary.txt, exit status 1 when it found something.
run_target() {
  local target=$1 seconds=$2
  local bin=$build/fuzz/fuzz-$target
  local seeds=$root/fuzz/corpus/$target
  local log=$work/$target/last-run.log summary=$work/$target/summary.txt
  local dict=$root/fuzz/dict/$(dict_of "$target").dict
  [ "$target" = onnx-text ] && dict=$root/fuzz/dict/onnx.dict
  mkdir -p "$work/$target/corpus" "$work/$target/crashes"
  touch "$work/$target/.started"
  # -timeout: one input running this long is a finding (a hang), and so is
  # one slower than that (-report_slow_units: libFuzzer's default, 10 s of
  # wall time, is reached by a 0.1 s input on a loaded machine); the memory
  # limits report a runaway allocation as a finding instead of swapping.
  "$bin" -max_total_time="$seconds" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} -timeout=30 -report_slow_units=30 \
    -rss_limit_mb=4096 -malloc_limit_mb=2048 \
    -dict="$dict" -artifact_prefix="$work/$target/crashes/" -print_final_stats=1 \
    -detect_leaks=1 "$work/$target/corpus" "$seeds" >"$log" 2>&1
  local rc=$?
  local last runs speed crashes found=0
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  crashes=$(find "$work/$target/crashes" -type f -newer "$work/$target/.started" | sort)
  {
    echo "== fuzz-$target for $seconds s (seeds $seeds, corpus $work/$target/corpus)"
    echo "   executions ${runs:-?} (${speed:-?}/s); last status: ${last:-none}"
    if [ $rc -ne 0 ] || [ -n "$crashes" ]; then
      found=1
      echo "   FOUND (exit $rc): see $log"
      grep -E '^==[0-9]+==ERROR|^SUMMARY|ALARM|out-of-memory|deadly signal' "$log" | head -5 | sed 's/^/   /'
      [ -n "$crashes" ] && echo "$crashes" | sed 's/^/   input: /'
    fi
  } >"$summary"
  return $found
}

jobs=${FUZZ_JOBS:-1}
for target in "${selected[@]}"; do
  if [ ! -x "$build/fuzz/fuzz-$target" ]; then
    echo "fuzz.sh: $build/fuzz/fuzz-$target is missing (configure with -DFLIGHTLLM_FUZZ=ON, see docs/testing.md)" >&2
    exit 2
  fi
done
status=0
pids=()
for target in "${selected[@]}"; do
  # At most $jobs runs at a time: wait for the oldest before starting more.
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
  echo "== fuzz-$target: starting, $2 s"
  run_target "$target" "$2" &
  pids+=($!)
done
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
for target in "${selected[@]}"; do
  cat "$work/$target/summary.txt"
done
exit $status
