#!/usr/bin/env bash
# The live server's cost per epoch: a short run scraped every second (/metrics, /status.json and the page,
# as Prometheus plus one open live page would), then the CPU seconds of the server's own thread (NIO-ELT-*)
# against the epoch's wall time, read from /proc while the run lingers. A second run without the server
# gives the epoch time to compare (noisy on a shared host; the thread's CPU time is not).
# usage: scripts/monitor_cost.sh BIN_DIR DATA_DIR [LIMIT_TRAIN] [EPOCHS] [extra train options...]
set -euo pipefail
bin=$1 data=$2 limit=${3:-12000} epochs=${4:-2}
shift $(( $# < 4 ? $# : 4 ))
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
common=(train --data "$data" --limit-train "$limit" --epochs "$epochs" --seed 1 "$@")

"$bin/glassbox-coordinator" "${common[@]}" --out "$out/plain" > "$out/plain.log" 2>&1
"$bin/glassbox-coordinator" "${common[@]}" --out "$out/watched" --metrics-listen "127.0.0.1:$port" \
  --metrics-linger 4 > "$out/watched.log" 2>&1 &
pid=$!
scrapes=0
until grep -q "run finished" "$out/watched.log" 2> /dev/null; do
  kill -0 "$pid" 2> /dev/null || { cat "$out/watched.log"; exit 1; }
  for path in metrics status.json ""; do curl -s -o /dev/null "http://127.0.0.1:$port/$path" || true; done
  scrapes=$((scrapes + 1))
  sleep 1
done
ticks=0
for task in /proc/$pid/task/*; do
  case "$(cat "$task/comm")" in NIO-ELT*)
    read -r -a stat < "$task/stat"
    ticks=$((ticks + stat[13] + stat[14])) ;;
  esac
done
wait "$pid"
hz=$(getconf CLK_TCK)
python3 - "$out" "$ticks" "$hz" "$scrapes" << 'PY'
import csv, sys
out, ticks, hz, scrapes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def epochs(run): return [float(r["seconds"]) for r in csv.DictReader(open(f"{out}/{run}/metrics.csv"))]
plain, watched = epochs("plain"), epochs("watched")
server = ticks / hz
per_epoch = server / len(watched)
print(f"epoch seconds without the server: {', '.join(f'{s:.2f}' for s in plain)}")
print(f"epoch seconds with scrapes every 1 s: {', '.join(f'{s:.2f}' for s in watched)}")
print(f"server thread CPU: {server:.2f} s for {scrapes} rounds of 3 requests; {per_epoch:.3f} s per epoch = "
      f"{100 * per_epoch / (sum(watched) / len(watched)):.2f}% of a watched epoch")
PY
