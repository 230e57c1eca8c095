#!/usr/bin/env bash
# Screenshot of a report.html in headless Chromium, to look at the page without a desktop.
# usage: scripts/report_screenshot.sh REPORT.html OUT.png [VIEW] [WIDTHxHEIGHT]
#   VIEW is the page's URL hash, e.g. 'epoch=3&point=42' (hover point 42 at epoch 3) or
#   'test=7' (test points shown, test image 7 inspected); default: the page as it opens.
set -euo pipefail
if [ $# -lt 2 ]; then sed -n '2,6p' "$0"; exit 2; fi
report=$(realpath "$1") out=$(realpath -m "$2") view=${3:-} size=${4:-1400x1000}
chromium=${GLASSBOX_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$chromium" ] || { echo "report_screenshot: chromium not found (apt-get install -y chromium)" >&2; exit 1; }
"$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
  --virtual-time-budget=4000 --window-size="${size/x/,}" --screenshot="$out" "file://$report${view:+#$view}" \
  2>/dev/null >/dev/null
[ -s "$out" ] || { echo "report_screenshot: chromium wrote no screenshot for $report" >&2; exit 1; }
echo "$out"
