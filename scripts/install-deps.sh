#!/usr/bin/env bash
# Installs the Debian packages the tests drive for real: coturn (a
# third-party STUN/TURN server and clients to interoperate with),
# redis-server (cluster mode keeps its state in Redis), nftables
# and iproute2 (the NAT lab's routers and namespaces), chromium (the browser
# end-to-end tests drive it with playwright-core; no browser download) and
# util-linux's unshare and nsenter (those tests run in network namespaces),
# openssl (the one-port browser test makes its certificate), systemd's
# systemd-analyze (it checks deploy/systemd/parley.service), and
# prometheus for promtool, which checks the /metrics output. Only what is missing is
# installed, so a prepared machine pays nothing; `make test` calls this.
set -euo pipefail

need=()
command -v turnserver >/dev/null && command -v turnutils_uclient >/dev/null || need+=(coturn)
command -v redis-server >/dev/null || need+=(redis-server)
command -v nft >/dev/null || need+=(nftables)
command -v ip >/dev/null || need+=(iproute2)
command -v chromium >/dev/null || need+=(chromium)
command -v promtool >/dev/null || need+=(prometheus)
command -v unshare >/dev/null && command -v nsenter >/dev/null || need+=(util-linux)
command -v openssl >/dev/null || need+=(openssl)
command -v systemd-analyze >/dev/null || need+=(systemd)

if ((${#need[@]} == 0)); then
	exit 0
fi
if [[ $(id -u) != 0 ]]; then
	echo "install-deps: missing ${need[*]}; run as root or install them: apt-get install ${need[*]}" >&2
	exit 1
fi
echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts coturn, redis-server and prometheus as services on
# install; the tests run their own coturn and redis-server and need no
# prometheus server.
for service in coturn redis-server prometheus; do
	if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
		systemctl stop "$service" || true
	fi
done
