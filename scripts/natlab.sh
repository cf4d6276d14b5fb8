#!/usr/bin/env bash
# natlab.sh — run Parley's NAT lab (turn/natlab): network namespaces with
# nftables NAT routers (full cone, restricted cone, port-restricted cone,
# symmetric) between two clients and Parley's STUN/TURN (built by the test,
# run with --turn-alt-address). It checks that turn/nattype names each
# router's type, that UDP hole punching connects exactly the pairs the
# direct-connection table allows, that TURN through Parley connects the
# others, and that two pion peers behind symmetric NATs are explained
# (admin.diag.explain) as such with TURN withheld, and connect through a
# relay with it. Under a minute; the test deletes everything it made on exit.
#
# Usage:  sudo scripts/natlab.sh [go test flags]   run the lab (e.g. -v)
#         sudo scripts/natlab.sh down              remove what a killed run left
# Needs:  root, iproute2, nftables (scripts/install-deps.sh installs them), Go.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $(id -u) == 0 ]] || { echo "natlab.sh: needs root (ip netns, nft)" >&2; exit 2; }

if [[ ${1:-} == down ]]; then
	# The lab's namespaces are named plab<test PID>-<role>. Processes still
	# inside them (a SIGKILLed run's parley) are killed by PID, then the
	# namespaces are deleted.
	for ns in $(ip netns list | awk '$1 ~ /^plab[0-9]+-/ {print $1}'); do
		for pid in $(ip netns pids "$ns"); do kill "$pid" 2>/dev/null || true; done
		ip netns del "$ns"
		echo "removed $ns"
	done
	exit 0
fi

./scripts/install-deps.sh
exec go test -count=1 -run '^TestNATLab$' "$@" ./turn/natlab
