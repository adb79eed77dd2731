#!/usr/bin/env bash
# Load on `lenet5 serve` from wrk, on loopback only: POST /api/predict from 16 connections for
# 30 s each, with a 1.4 KB JPEG digit and with the 784 JSON pixels of MNIST's first test digit,
# first alone, then while a training runs. Prints wrk's figures (requests/s, latency
# percentiles, errors) and the server's resident memory along the way.
# Usage: scripts/load_test.sh [LENET5_BINARY] [SECONDS]   (needs Debian's wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
lenet5=${1:-.build/release/lenet5}
seconds=${2:-30}
port=18090
runs=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$runs"' EXIT

python3 - "$runs/pixels.json" <<'PY'
import gzip, json, sys
with gzip.open("Sources/Datasets/Resources/mnist/t10k-images-idx3-ubyte.gz") as f:
    pixels = list(f.read()[16:16 + 784])
open(sys.argv[1], "w").write(json.dumps({"pixels": pixels}))
PY

# A wrk script posting `file` as `type`, printing one line of figures.
script() {
  cat > "$runs/$3.lua" <<LUA
local file = io.open("$1", "rb")
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "$2"
done = function(summary, latency, requests)
  io.write(string.format("requests/s %.0f, p50 %.2f ms, p99 %.2f ms, max %.2f ms, non-2xx %d, socket errors %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
}
script docs/images/typed/typed-3.jpg image/jpeg jpeg
script "$runs/pixels.json" application/json pixels

"$lenet5" serve --port "$port" --runs "$runs" > "$runs/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/api/models" > /dev/null && break; sleep 0.2; done
rss() { awk '/VmRSS/ { printf "%.0f MB", $2 / 1024 }' "/proc/$server/status"; }
url="http://127.0.0.1:$port/api/predict"
load() {
  for body in jpeg pixels; do
    echo "== predict $1, $body: wrk -t2 -c16 -d${seconds}s"
    wrk -t2 -c16 -d"${seconds}s" --latency -s "$runs/$body.lua" "$url" | tail -n 1
    echo "server RSS after: $(rss)"
  done
}

echo "server RSS at start: $(rss)"
load alone
curl -sf -X POST -H "Content-Type: application/json" -d '{"epochs": 50}' "http://127.0.0.1:$port/api/train" > /dev/null
sleep 2
load "while a training runs"
curl -sf "http://127.0.0.1:$port/api/train" | python3 -c 'import json, sys; s = json.load(sys.stdin); b = [e for e in s["events"] if e["type"] == "batch"]; print("training meanwhile: state %s, at epoch %d batch %d, %.0f images/s" % (s["state"], b[-1]["data"]["epoch"], b[-1]["data"]["batch"], b[-1]["data"]["imagesPerSecond"]))'
curl -sf -X POST "http://127.0.0.1:$port/api/train/stop" > /dev/null
