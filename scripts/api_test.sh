#!/usr/bin/env bash
# schemathesis against a live `lenet5 serve`: requests generated from the OpenAPI document it
# serves (/api/openapi.json), valid and invalid, EXAMPLES per operation (default 100), each
# answer checked: no 5xx, a documented status, content type, headers and schema, invalid data
# refused, and 405 for any other method. Not checked: that every schema-valid request is
# accepted, which a schema cannot promise (an image with no ink is 422; training options must
# also suit the data: a validation split larger than the training set is 400).
# Trains on the 250 images in FuzzTesting/Data, so the runs it starts end quickly.
# Usage: scripts/api_test.sh LENET5_BINARY SCHEMATHESIS [EXAMPLES]
set -euo pipefail
lenet5=$1
schemathesis=$2
examples=${3:-100}
root=$(cd "$(dirname "$0")/.." && pwd)
runs=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$lenet5" serve --port "$port" --runs "$runs" --data "$root/FuzzTesting/Data" --threads 1 > "$runs.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$runs" "$runs.log"' EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/api/models" > /dev/null && break
    sleep 0.2
done
# The event stream goes on until the server stops: ServerTests and the browser test cover it.
"$schemathesis" run "http://127.0.0.1:$port/api/openapi.json" --checks all --exclude-checks positive_data_acceptance \
    --exclude-path /api/train/events --max-examples "$examples" --request-timeout 30 --seed 1 --no-color
