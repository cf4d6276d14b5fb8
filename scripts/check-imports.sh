#!/usr/bin/env bash
# Data flows one way (DESIGN.md §1): the lower packages (api, rpc, turn)
# never import server. The Go client is what bots and apps link, so it
# carries none of the server's weight: no server or turn package, not the
# rpc runtime (the protocol's types share only rpc/wire with it), no Redis,
# no Prometheus; its core package no pion at all (pion/turn included). Its
# WebRTC glue (webrtcpeer) needs pion/webrtc, which brings pion/ice's TURN
# client with it. The signaling core (server/signal) and its memory store
# import only api and the standard library (and the store, the core): the
# state machine knows no transport. The Redis store adds go-redis and the
# JSON it encodes records with.
set -euo pipefail
module=$(go list -m)
status=0
for pkg in ./api/... ./rpc/... ./turn/...; do
	for p in $(go list "$pkg"); do
		if go list -deps "$p" | grep -qx "$module/server"; then
			echo "import rule broken: $p imports $module/server"
			status=1
		fi
	done
done
for p in $(go list ./clients/go/...); do
	deny="^($module/(server|turn)(/|\$)|$module/rpc\$|github\.com/(redis|go-redis)/|github\.com/prometheus/)"
	if [ "$p" = "$module/clients/go/parley" ]; then
		deny="$deny|^github\.com/pion/"
	fi
	if bad=$(go list -deps "$p" | grep -E "$deny"); then
		echo "import rule broken: the Go client package $p imports:"
		echo "$bad" | sed 's/^/  /'
		status=1
	fi
done
# The binary links no dependency only tests need: the Kubernetes types that
# check deploy/kubernetes, Pebble and its DNS server (the ACME tests' CA).
if bad=$(go list -deps ./cmd/parley | grep -E '^(k8s\.io|sigs\.k8s\.io)/|^github\.com/(letsencrypt|miekg)/'); then
	echo "import rule broken: the parley binary links test-only packages:"
	echo "$bad" | sed 's/^/  /'
	status=1
fi
for p in $(go list ./server/signal/...); do
	case "$p" in */signaltest) continue ;; esac
	allow="^($module/api|$module/server/signal)\$"
	if [[ "$p" == */redisstore ]]; then
		allow="^($module/api|$module/server/signal|github\.com/redis/go-redis/v9|github\.com/go-json-experiment/json(/jsontext)?)\$"
	fi
	for imp in $(go list -f '{{join .Imports "\n"}}' "$p"); do
		if [[ "$imp" == *.* && ! "$imp" =~ $allow ]]; then
			echo "import rule broken: the signaling package $p imports $imp (only api and the standard library)"
			status=1
		fi
	done
done
exit $status
