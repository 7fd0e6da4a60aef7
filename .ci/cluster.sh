#!/usr/bin/env bash
# A local Kubernetes control plane for the spaces cluster tests: etcd and kube-apiserver built
# from source through the Go module proxy, listening on 127.0.0.1 only, with the
# workspace.jupyter.org CRDs installed.
#
#   cluster.sh build               build the binaries once (cached by version under $SMCONFORM_CLUSTER_CACHE)
#   cluster.sh start [HOLDER_PID]  build if needed, start etcd + apiserver, install the CRDs, wait until
#                                  ready, print the kubeconfig path; HOLDER_PID registers a user of it
#   cluster.sh release HOLDER_PID  drop that user; stop and clean up when no live user is left
#   cluster.sh stop                stop what `start` started (by recorded pid), remove its state directory
#   cluster.sh status              print the kubeconfig path when the control plane answers, else exit 1
#   cluster.sh binaries            print the binary directory when the binaries are built, else exit 1
#
# The CRDs are the operator's generated CRDs (config/crd/bases at the commit the reference names),
# from shared/reference/jupyter-k8s-crds beside the repository. The operator's own Go module is not
# served by the module proxy reachable here, so its webhooks cannot be built: this control plane
# enforces the CRDs' OpenAPI schema, defaults, pruning and CEL rules, and no webhook.
#
# k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces the k8s.io staging modules with
# local paths), so a throw-away wrapper module requires it and pins every staging module to its
# published v0.X.Y. etcd comes from the same build list (kubernetes requires etcd's server module),
# so both binaries match the version kubernetes is tested with.
set -euo pipefail

K8S_VERSION=${SMCONFORM_K8S_VERSION:-v1.36.2}   # k8s.io/api v0.36.2 in the operator's go.mod
CACHE_ROOT=${SMCONFORM_CLUSTER_CACHE:-/var/cache/smconform/cluster}
BIN_DIR="$CACHE_ROOT/$K8S_VERSION/bin"
GO_CACHE_ROOT=${SMCONFORM_GO_CACHE:-/var/cache/smconform/go}
STATE_DIR=${SMCONFORM_CLUSTER_STATE:-/tmp/smconform-cluster}
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
CRD_DIR=${SMCONFORM_CRD_DIR:-$REPO_ROOT/../shared/reference/jupyter-k8s-crds}
# what the CRDs are, recorded on them (annotation io.smconform/crd-source) for the live mode's report
CRD_SOURCE=${SMCONFORM_CRD_SOURCE:-"jupyter-infra/jupyter-k8s f2670353 (main, 2026-07-23) config/crd/bases"}

case ":$PATH:" in *:/usr/local/go/bin:*) ;; *) PATH="$PATH:/usr/local/go/bin" ;; esac
export GOMODCACHE="$GO_CACHE_ROOT/mod" GOCACHE="$GO_CACHE_ROOT/build"
export GOFLAGS="${GOFLAGS:--p=2} -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0

log() { echo "cluster: $*" >&2; }
die() { echo "ERROR: smconform: cluster: $*" >&2; exit 2; }

binaries_present() { [ -x "$BIN_DIR/kube-apiserver" ] && [ -x "$BIN_DIR/etcd" ]; }

build() {
  if binaries_present; then
    log "binaries for $K8S_VERSION already in $BIN_DIR"
    return 0
  fi
  command -v go >/dev/null || die "go is not on PATH (needed to build kube-apiserver and etcd)"
  mkdir -p "$BIN_DIR" "$GOMODCACHE" "$GOCACHE"
  local started wrapper k8s_dir
  started=$(date +%s)
  wrapper=$(mktemp -d /tmp/smconform-k8s-wrapper.XXXXXX)
  trap 'rm -rf "$wrapper"; trap - RETURN' RETURN  # once: a RETURN trap outlives the function
  k8s_dir=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$k8s_dir" ] || die "could not download k8s.io/kubernetes@$K8S_VERSION"
  local staging_version="v0.${K8S_VERSION#v1.}"
  {
    echo "module smconform.local/k8s-wrapper"
    echo
    echo "go $(sed -n 's/^go //p' "$k8s_dir/go.mod")"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    # every `k8s.io/X => ./staging/src/k8s.io/X` of kubernetes' go.mod becomes a published version
    sed -n 's|^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => \./staging/src/.*$|\1|p' "$k8s_dir/go.mod" |
      while read -r module; do echo "	$module => $module $staging_version"; done
    echo ")"
  } >"$wrapper/go.mod"
  echo "package main" >"$wrapper/main.go"
  (
    cd "$wrapper"
    go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" go.etcd.io/etcd/server/v3 >&2
    log "building kube-apiserver $K8S_VERSION and etcd (this takes a while the first time)"
    local v=k8s.io/component-base/version minor=${K8S_VERSION#v1.}
    go build -trimpath -o "$BIN_DIR/kube-apiserver.tmp" -ldflags "-s -X $v.gitVersion=$K8S_VERSION \
      -X $v.gitMajor=1 -X $v.gitMinor=${minor%%.*} -X $v.gitTreeState=clean" k8s.io/kubernetes/cmd/kube-apiserver
    go build -trimpath -ldflags=-s -o "$BIN_DIR/etcd.tmp" go.etcd.io/etcd/server/v3
  )
  mv "$BIN_DIR/kube-apiserver.tmp" "$BIN_DIR/kube-apiserver"
  mv "$BIN_DIR/etcd.tmp" "$BIN_DIR/etcd"
  echo "$(($(date +%s) - started))" >"$CACHE_ROOT/$K8S_VERSION/build-seconds"  # the cold build's time, kept
  log "built in $(($(date +%s) - started))s"
}

# -- start / stop -------------------------------------------------------------------------------
# The state directory holds the certificates, the kubeconfig, etcd's data, logs and pids. Several
# holders (CI, each pytest worker) may share one control plane: `start HOLDER_PID` registers a holder,
# `release HOLDER_PID` drops it and stops the control plane when no live holder is left.

TOKEN_FILE="$STATE_DIR/token"
KUBECONFIG_FILE="$STATE_DIR/kubeconfig"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

api_get() {  # api_get PATH: GET against the running apiserver, body on stdout
  curl -sf --max-time 5 --cacert "$STATE_DIR/serving.crt" -H "Authorization: Bearer $(cat "$TOKEN_FILE")" \
    "https://127.0.0.1:$(cat "$STATE_DIR/apiserver.port")$1"
}

running() {
  [ -f "$STATE_DIR/apiserver.pid" ] && kill -0 "$(cat "$STATE_DIR/apiserver.pid")" 2>/dev/null &&
    [ -f "$STATE_DIR/ready" ] && api_get /readyz >/dev/null 2>&1
}

# wait_for DESCRIPTION SECONDS COMMAND...: poll until COMMAND succeeds (an observed event, not a sleep)
wait_for() {
  local what=$1 limit=$2 deadline
  shift 2
  deadline=$(($(date +%s) + limit))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "$what did not happen within ${limit}s; logs in $STATE_DIR/*.log"
      tail -n 20 "$STATE_DIR"/*.log >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

make_certs() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$STATE_DIR/serving.key" -out "$STATE_DIR/serving.crt" 2>/dev/null
  openssl genrsa -out "$STATE_DIR/sa.key" 2048 2>/dev/null
  openssl rsa -in "$STATE_DIR/sa.key" -pubout -out "$STATE_DIR/sa.pub" 2>/dev/null
  openssl rand -hex 24 >"$TOKEN_FILE"
  echo "$(cat "$TOKEN_FILE"),smconform-admin,smconform-admin,system:masters" >"$STATE_DIR/tokens.csv"
  chmod 600 "$TOKEN_FILE" "$STATE_DIR/tokens.csv" "$STATE_DIR/serving.key" "$STATE_DIR/sa.key"
}

write_kubeconfig() {
  cat >"$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: smconform
  cluster:
    server: https://127.0.0.1:$1
    certificate-authority-data: $(base64 -w0 "$STATE_DIR/serving.crt")
users:
- name: smconform-admin
  user:
    token: $(cat "$TOKEN_FILE")
contexts:
- name: smconform
  context: {cluster: smconform, user: smconform-admin}
current-context: smconform
EOF
  chmod 600 "$KUBECONFIG_FILE"
}

crds_served() {
  local body
  body=$(api_get /apis/workspace.jupyter.org/v1alpha1) || return 1
  case $body in *'"workspacetemplates"'*) ;; *) return 1 ;; esac
  case $body in *'"workspaces"'*) return 0 ;; *) return 1 ;; esac
}

install_crds() {
  [ -d "$CRD_DIR" ] || die "CRD directory not found: $CRD_DIR (set SMCONFORM_CRD_DIR)"
  local crd port name
  port=$(cat "$STATE_DIR/apiserver.port")
  for crd in "$CRD_DIR"/*.yaml; do
    curl -sf --max-time 30 --cacert "$STATE_DIR/serving.crt" -H "Authorization: Bearer $(cat "$TOKEN_FILE")" \
      -H "Content-Type: application/yaml" --data-binary "@$crd" -o /dev/null \
      "https://127.0.0.1:$port/apis/apiextensions.k8s.io/v1/customresourcedefinitions" ||
      die "could not install $crd"
    name=$(sed -n 's/^  name: //p' "$crd" | head -n 1)
    curl -sf --max-time 30 --cacert "$STATE_DIR/serving.crt" -H "Authorization: Bearer $(cat "$TOKEN_FILE")" \
      -X PATCH -H "Content-Type: application/merge-patch+json" -o /dev/null \
      --data "{\"metadata\":{\"annotations\":{\"io.smconform/crd-source\":\"$CRD_SOURCE\"}}}" \
      "https://127.0.0.1:$port/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$name" ||
      die "could not annotate $name"
  done
  wait_for "the workspace.jupyter.org CRDs to be served" 60 crds_served
}

launch() {  # launch NAME COMMAND...: start in its own session, record the pid
  local name=$1
  shift
  # fd 9 is the lock of with_lock: a server that inherited it would hold the lock for its lifetime
  setsid "$@" >"$STATE_DIR/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$STATE_DIR/$name.pid"
}

start_processes() {
  rm -rf "$STATE_DIR"
  mkdir -p "$STATE_DIR/holders"
  chmod 700 "$STATE_DIR"
  make_certs
  local etcd_port peer_port api_port
  etcd_port=$(free_port) peer_port=$(free_port) api_port=$(free_port)
  echo "$api_port" >"$STATE_DIR/apiserver.port"
  launch etcd "$BIN_DIR/etcd" --name smconform --data-dir "$STATE_DIR/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "smconform=http://127.0.0.1:$peer_port" --unsafe-no-fsync --log-level warn
  wait_for "etcd to answer" 60 curl -sf --max-time 2 "http://127.0.0.1:$etcd_port/health"
  launch apiserver "$BIN_DIR/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --tls-cert-file "$STATE_DIR/serving.crt" --tls-private-key-file "$STATE_DIR/serving.key" \
    --token-auth-file "$STATE_DIR/tokens.csv" --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$STATE_DIR/sa.pub" \
    --service-account-signing-key-file "$STATE_DIR/sa.key" --service-cluster-ip-range 10.96.0.0/24 \
    --disable-admission-plugins ServiceAccount --enable-priority-and-fairness=false --profiling=false
  write_kubeconfig "$api_port"
  wait_for "kube-apiserver to be ready" 180 api_get /readyz
  install_crds
  touch "$STATE_DIR/ready"
}

stop_processes() {
  local name pid
  for name in apiserver etcd; do
    [ -f "$STATE_DIR/$name.pid" ] || continue
    pid=$(cat "$STATE_DIR/$name.pid")
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$STATE_DIR"
}

live_holders() {  # prints the registered holder pids that are still alive; forgets the dead ones
  local file
  for file in "$STATE_DIR"/holders/*; do
    [ -e "$file" ] || continue
    if kill -0 "${file##*/}" 2>/dev/null; then echo "${file##*/}"; else rm -f "$file"; fi
  done
}

with_lock() {
  mkdir -p "$(dirname "$STATE_DIR")"
  exec 9>"$STATE_DIR.lock"
  flock 9
  "$@"
}

do_start() {
  local holder=${1:-} started
  build
  if ! running; then
    if [ -d "$STATE_DIR" ]; then stop_processes; fi
    started=$(date +%s.%N)
    start_processes
    log "control plane $K8S_VERSION ready on $(sed -n 's/^    server: //p' "$KUBECONFIG_FILE") in" \
      "$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
  fi
  if [ -n "$holder" ]; then touch "$STATE_DIR/holders/$holder"; fi
  echo "$KUBECONFIG_FILE"
}

do_release() {
  local holder=${1:?release needs the holder pid given to start}
  rm -f "$STATE_DIR/holders/$holder"
  if [ -z "$(live_holders)" ]; then
    stop_processes
    log "stopped (no holder left)"
  fi
}

# everything above is parsed before anything runs: editing this file during a run cannot break it
main() {
  case "${1:-}" in
    build) build ;;
    start) with_lock do_start "${2:-}" ;;
    release) with_lock do_release "${2:-}" ;;
    stop) with_lock stop_processes ;;
    status) running && echo "$KUBECONFIG_FILE" ;;
    binaries) binaries_present && echo "$BIN_DIR" ;;
    *) die "usage: cluster.sh build | start [HOLDER_PID] | release HOLDER_PID | stop | status | binaries" ;;
  esac
}

main "$@"
exit $?
