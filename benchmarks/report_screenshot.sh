#!/usr/bin/env bash
# Render a report.html in headless Chromium (Debian's `chromium` package) to a PNG, as a reader sees it.
#   benchmarks/report_screenshot.sh results/cpu/paper/report.html results/cpu/paper/report.png [WIDTH] [HEIGHT]
set -euo pipefail
html=${1:?usage: report_screenshot.sh REPORT.html OUT.png [WIDTH] [HEIGHT]}
png=${2:?usage: report_screenshot.sh REPORT.html OUT.png [WIDTH] [HEIGHT]}
width=${3:-1400}
height=${4:-2400}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "error: no Chromium found; install it (Debian: apt-get install chromium)" >&2
  exit 2
fi
[ -f "$html" ] || { echo "error: no such file: $html" >&2; exit 2; }
# No network: the report must stand on its own (inline CSS, images as data URIs).
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
  --proxy-server="127.0.0.1:9" --proxy-bypass-list="<-loopback>" \
  --window-size="${width},${height}" --screenshot="$(realpath -m "$png")" "file://$(realpath "$html")" \
  2> >(grep -v -e "dbus" -e "Fontconfig" >&2) >/dev/null
[ -s "$png" ] || { echo "error: Chromium wrote no screenshot" >&2; exit 1; }
echo "wrote $png (${width}x${height})"
