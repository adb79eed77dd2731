#!/usr/bin/env bash
# Load on `lenet5 serve` from wrk, on loopback only: POST /api/predict with a JPEG digit from
# 16 connections for 30 s, first alone, then while a training runs. Prints wrk's figures
# (requests/s, latency percentiles, errors) and the server's resident memory before and after.
# Usage: scripts/load_test.sh [LENET5_BINARY] [SECONDS]   (needs Debian's wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
lenet5=${1:-.build/release/lenet5}
seconds=${2:-30}
port=18090
runs=$(mktemp -d)
script=$(mktemp --suffix=.lua)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$runs" "$script"' EXIT

cat > "$script" <<LUA
local file = io.open("docs/images/typed/typed-3.jpg", "rb")
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "image/jpeg"
done = function(summary, latency, requests)
  io.write(string.format("requests/s %.0f, p50 %.2f ms, p99 %.2f ms, max %.2f ms, non-2xx %d, socket errors %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA

"$lenet5" serve --port "$port" --runs "$runs" > "$runs/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/api/models" > /dev/null && break; sleep 0.2; done
rss() { awk '/VmRSS/ { printf "%.0f MB", $2 / 1024 }' "/proc/$server/status"; }
url="http://127.0.0.1:$port/api/predict"

echo "server RSS at start: $(rss)"
echo "== predict alone: wrk -t2 -c16 -d${seconds}s"
wrk -t2 -c16 -d"${seconds}s" --latency -s "$script" "$url" | tail -n 1
echo "server RSS after: $(rss)"

curl -sf -X POST -H "Content-Type: application/json" -d '{"epochs": 50}' "http://127.0.0.1:$port/api/train" > /dev/null
sleep 2
echo "== predict while a training runs: wrk -t2 -c16 -d${seconds}s"
wrk -t2 -c16 -d"${seconds}s" --latency -s "$script" "$url" | tail -n 1
echo "server RSS after: $(rss)"
curl -sf "http://127.0.0.1:$port/api/train" | python3 -c 'import json, sys; s = json.load(sys.stdin); b = [e for e in s["events"] if e["type"] == "batch"]; print("training meanwhile: state %s, at epoch %d batch %d, %.0f images/s" % (s["state"], b[-1]["data"]["epoch"], b[-1]["data"]["batch"], b[-1]["data"]["imagesPerSecond"]))'
curl -sf -X POST "http://127.0.0.1:$port/api/train/stop" > /dev/null
