#!/usr/bin/env bash
# A real distributed run under ThreadSanitizer or AddressSanitizer: a sanitized release build of both
# programs (built into SCRATCH_PATH by this script), the coordinator with 2 spawned workers drawing a map on a small subset,
# its metrics server scraped (/metrics, /status.json, /) every second while it runs. Threads covered:
# the coordinator's socket thread and training thread, the figure queue, the UMAP threads, the metrics
# server's event loop, and in the workers their socket and compute threads. Passes when the run ends
# with status 0 and no process printed a sanitizer report (halt_on_error stops at the first).
# usage: scripts/sanitize_cluster.sh thread|address SCRATCH_PATH DATA_DIR [swift build flags...]
set -euo pipefail
sanitizer=$1 scratch=$2 data=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
source "$here/sanitizers/options.sh"
sanitizer_options "$sanitizer"
swift build -c release --sanitize="$sanitizer" --scratch-path "$scratch" "$@"
bin=$(swift build -c release --sanitize="$sanitizer" --scratch-path "$scratch" --show-bin-path "$@")
run=$(mktemp -d /tmp/glassbox-sanitize-XXXXXX)
pid=
trap '[ -z "$pid" ] || kill "$pid" 2> /dev/null || true' EXIT
start=$(date +%s)
"$bin/glassbox-coordinator" train --data "$data" --limit-train 1000 --epochs 1 --spawn-workers 2 --n-neighbors 10 \
    --metrics-listen 127.0.0.1:0 --out "$run/run" > "$run/log" 2>&1 &
pid=$!
scrapes=0
while kill -0 "$pid" 2> /dev/null; do
    url=$(grep -o 'http://127.0.0.1:[0-9]*/metrics' "$run/log" | head -n 1 | sed 's|/metrics$||' || true)
    if [ -n "$url" ]; then
        for path in /metrics /status.json /; do curl -fsS -o /dev/null --max-time 5 "$url$path" 2> /dev/null && scrapes=$((scrapes + 1)) || true; done
    fi
    sleep 1
done
status=0
wait "$pid" || status=$?
if grep -q "$report" "$run/log" || [ "$status" -ne 0 ]; then
    grep -A40 "$report" "$run/log" | head -80 || tail -20 "$run/log"
    echo "sanitize ($sanitizer, cluster run): FAILED (status $status); the whole log: $run/log"
    exit 1
fi
rm -rf "$run"
echo "sanitize ($sanitizer, cluster run): coordinator + 2 workers, 1 epoch with its maps, $scrapes scrapes answered;" \
     "no reports; $(( $(date +%s) - start )) s"
