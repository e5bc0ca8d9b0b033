#!/usr/bin/env bash
# Installs `promtool` (to check the /metrics scrape) from Debian's `prometheus` package without
# installing the package itself: `apt-get install prometheus` would also set up a Prometheus
# server and may start it. Only the one binary is unpacked, to /usr/local/bin. Idempotent.
set -euo pipefail
command -v promtool >/dev/null && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
chown _apt "$work" 2>/dev/null || true # apt downloads as its own user where there is one
apt-get update -qq
apt-get download prometheus >/dev/null
dpkg-deb --fsys-tarfile prometheus_*.deb | tar -x ./usr/bin/promtool
install -m 755 usr/bin/promtool /usr/local/bin/promtool
promtool --version | head -1
