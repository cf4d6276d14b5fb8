#!/usr/bin/env bash
# make cluster: a local cluster to try cluster mode. It starts a
# redis-server (127.0.0.1:$REDIS_PORT, AOF fsync every second, its data in
# a temporary directory) and three dev-mode parley nodes on it,
# 127.0.0.1:7881, 7882 and 7883, each with its own STUN/TURN port (3481,
# 3482, 3483) and all with the same API key and TURN secret, then prints
# their URLs and the demo's. Open the demo on two nodes' ports (the printed
# URLs name the cluster's nodes with ?nodes=): the call connects across
# them. `kill -9` one node's pid (printed): a page on it resumes on another
# node, and its room chat loses nothing. Ctrl-C stops everything.
set -euo pipefail

REDIS_PORT=${REDIS_PORT:-6390}
API_KEY=${API_KEY:-cluster:0123456789abcdef0123456789abcdef}
TURN_SECRET=${TURN_SECRET:-cluster-turn-secret-0123456789}

command -v redis-server >/dev/null || { echo "cluster: redis-server not found: make deps (or apt-get install redis-server)" >&2; exit 1; }
dir=$(mktemp -d -t parley-cluster.XXXXXX)
pids=()
stop() {
	trap - INT TERM EXIT
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap stop INT TERM EXIT

go build -o "$dir/parley" ./cmd/parley
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync everysec \
	--save '' --protected-mode no --loglevel warning >"$dir/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
	redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
	sleep 0.1
done
redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || { echo "cluster: redis-server did not start:" >&2; cat "$dir/redis.log" >&2; exit 1; }

nodes=7881,7882,7883 # the demo's ?nodes=: every node, so a page resumes on another
echo "redis  redis://127.0.0.1:$REDIS_PORT/0 (pid ${pids[0]}, data in $dir)"
for i in 1 2 3; do
	"$dir/parley" serve --dev --listen "127.0.0.1:788$i" --turn-listen "127.0.0.1:348$i" \
		--redis-url "redis://127.0.0.1:$REDIS_PORT/0" --node-id "node$i" \
		--api-keys "$API_KEY" --turn-secret "$TURN_SECRET" \
		--public-url "http://127.0.0.1:7881" --public-url "http://127.0.0.1:7882" --public-url "http://127.0.0.1:7883" \
		>"$dir/node$i.out" 2>"$dir/node$i.log" &
	pids+=($!)
	for _ in $(seq 100); do
		grep -q "listening on" "$dir/node$i.out" 2>/dev/null && break
		sleep 0.1
	done
	grep -q "listening on" "$dir/node$i.out" || { echo "cluster: node$i did not start:" >&2; cat "$dir/node$i.log" >&2; exit 1; }
	echo "node$i  ws://127.0.0.1:788$i/rpc  demo http://127.0.0.1:788$i/demo/?nodes=$nodes  STUN/TURN 127.0.0.1:348$i  (pid $!, log $dir/node$i.log)"
done
echo
echo "The demo on two nodes: open both, join the same room, the call connects across them:"
echo "  http://127.0.0.1:7881/demo/?nodes=$nodes&room=demo"
echo "  http://127.0.0.1:7882/demo/?nodes=$nodes&room=demo"
echo "Then kill -9 one page's node (its pid above): that page resumes on another node; the call"
echo "stays up and the room chat keeps every message."
echo
echo "API key $API_KEY (a token: parley token --key $API_KEY --identity alice; admin.node.status lists the nodes)"
echo "Ctrl-C stops the cluster."
wait
