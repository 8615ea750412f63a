#!/usr/bin/env bash
# Render a report in headless Chromium and save a screenshot, to check it by eye.
#   experiments/render_report.sh RUN_DIR/report.html [OUT.png] [WIDTH,HEIGHT]
# Needs Debian's chromium (`apt-get install -y chromium`); not used by the tests.
set -euo pipefail
html="${1:?usage: $0 REPORT.html [OUT.png] [WIDTH,HEIGHT]}"
out="${2:-/tmp/report.png}"
size="${3:-1400,3000}"
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$browser" ]; then
    echo "chromium not found: apt-get update && apt-get install -y chromium" >&2
    exit 1
fi
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars --screenshot="$out" --window-size="$size" \
    "file://$(realpath "$html")" 2>/dev/null
echo "screenshot: $out"
