#!/usr/bin/env bash
# Runs the browser end-to-end tests: builds parley and the echobot, then runs
# the node tests inside a fresh network namespace with only loopback, so the
# server, its TURN relay, the bot, chromium and the cluster tests'
# redis-server and nodes talk over 127/8 alone and the dev ports cannot
# clash with anything else on the machine. make e2e installs what is
# missing first (make deps: chromium, redis-server, …).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd .. && pwd)
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd "$root" && go build -o "$bin/parley" ./cmd/parley && go build -o "$bin/echobot" ./examples/echobot)
export E2E_PARLEY_BIN=$bin/parley E2E_ECHOBOT_BIN=$bin/echobot
rm -rf artifacts
ns=(unshare --net)
if [[ $(id -u) != 0 ]]; then
	ns=(unshare --map-root-user --net) # an unprivileged user namespace owns the netns
fi
exec "${ns[@]}" -- bash -c 'ip link set lo up && exec node --test --test-concurrency=1 --test-timeout=120000 "$@" tests/' bash "$@"
