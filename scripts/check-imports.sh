#!/usr/bin/env bash
# Data flows one way (DESIGN.md §1): the lower packages (api, rpc, turn)
# never import server.
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
exit $status
