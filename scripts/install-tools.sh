#!/usr/bin/env bash
# Builds the pinned test tools from the Go module proxy into a cache outside the checkout:
#   $AIRFLOW_PLATFORM_TOOLS (default ~/.cache/airflow-platform/tools)/<tool>-<version>/
# Idempotent: a tool whose binary is already in the cache (or on PATH at the pinned version)
# is not built again. Prints what it built and how long each step took.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

cache=${AIRFLOW_PLATFORM_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/airflow-platform/tools}
mkdir -p "$cache"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
command -v go >/dev/null || { echo "install-tools: go is not installed (apt-get install golang, or see https://go.dev/doc/install)" >&2; exit 1; }

log() { printf '[install-tools] %s\n' "$*"; }

# on_path NAME VERSION DEST: link a binary already on PATH into DEST when it reports VERSION.
on_path() {
  local name=$1 version=$2 dest=$3 found
  found=$(command -v "$name" 2>/dev/null) || return 1
  "$found" --version 2>/dev/null | grep -q -- "${version#v}" || return 1
  mkdir -p "$dest" && ln -sf "$found" "$dest/$name"
  log "$name $version: using $found from PATH"
}

# throwaway_module DIR: an empty module to build third-party main packages in.
throwaway_module() {
  rm -rf "$1" && mkdir -p "$1" && (cd "$1" && go mod init airflow-platform.local/toolbuild >/dev/null 2>&1)
}

# build_go_tool NAME VERSION PACKAGE BINARY LDFLAGS [GO-MOD-EDIT-ARG...]: the main package
# PACKAGE of a third-party module at VERSION, built in a throwaway module into
# $cache/NAME-VERSION/BINARY (edit arguments first, e.g. a -replace its go.mod needs).
build_go_tool() {
  local name=$1 version=$2 package=$3 binary=$4 ldflags=$5
  shift 5
  local dest="$cache/$name-$version"
  [ -x "$dest/$binary" ] && { log "$name $version: cached"; return; }
  local start=$SECONDS work="$cache/.build/$name"
  throwaway_module "$work"
  cd "$work"
  [ $# -eq 0 ] || go mod edit "$@"
  go get "$package@$version" >/dev/null
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
  go build -trimpath -ldflags "-s -w $ldflags" -o "$dest.tmp/$binary" "$package"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
  log "$name $version: built in $((SECONDS - start)) s"
}

build_helm() {
  local dest="$cache/helm-$HELM_VERSION"
  [ -x "$dest/helm" ] && { log "helm $HELM_VERSION: cached"; return; }
  on_path helm "$HELM_VERSION" "$dest" && return
  local start=$SECONDS work="$cache/.build/helm"
  throwaway_module "$work"
  cd "$work"
  go get "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >/dev/null
  local k8s_api_ver major minor
  k8s_api_ver=$(go list -m -f '{{.Version}}' k8s.io/client-go)   # e.g. v0.34.2
  major=1; minor=$(echo "$k8s_api_ver" | cut -d. -f2)
  # The same ldflags as helm's own Makefile, so `helm template`/`lint` know the Kubernetes version.
  local pkg=helm.sh/helm/v3
  local ldflags="-s -w -X $pkg/internal/version.version=$HELM_VERSION -X $pkg/internal/version.gitTreeState=clean"
  for v in pkg/lint/rules pkg/chartutil; do
    ldflags="$ldflags -X $pkg/$v.k8sVersionMajor=$major -X $pkg/$v.k8sVersionMinor=$minor"
  done
  mkdir -p "$dest.tmp"
  go build -trimpath -ldflags "$ldflags" -o "$dest.tmp/helm" "$pkg/cmd/helm"
  mv "$dest.tmp" "$dest"
  log "helm $HELM_VERSION: built in $((SECONDS - start)) s ($("$dest/helm" version --short))"
}

build_etcd() {
  local dest="$cache/etcd-$ETCD_VERSION"
  [ -x "$dest/etcd" ] && { log "etcd $ETCD_VERSION: cached"; return; }
  on_path etcd "$ETCD_VERSION" "$dest" && return
  local start=$SECONDS work="$cache/.build/etcd"
  throwaway_module "$work"
  cd "$work"
  # server/v3 has relative replaces in its go.mod, so it cannot be `go install`ed; as a
  # dependency of this module its published siblings at the same version are used instead.
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null
  mkdir -p "$dest.tmp"
  go build -trimpath -ldflags "-s -w" -o "$dest.tmp/etcd" go.etcd.io/etcd/server/v3
  mv "$dest.tmp" "$dest"
  log "etcd $ETCD_VERSION: built in $((SECONDS - start)) s ($("$dest/etcd" --version | head -1))"
}

build_kwok() {
  local dest="$cache/kwok-$KWOK_VERSION"
  [ -x "$dest/kwok" ] && [ -d "$dest/stage" ] && { log "kwok $KWOK_VERSION: cached"; return; }
  local start=$SECONDS work="$cache/.build/kwok"
  throwaway_module "$work"
  cd "$work"
  go get "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >/dev/null
  mkdir -p "$dest.tmp"
  go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" -o "$dest.tmp/kwok" sigs.k8s.io/kwok/cmd/kwok
  # The pod and node stages ship inside the module; keep them beside the binary.
  local moddir
  moddir=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  cp -r "$moddir/kustomize/stage" "$dest.tmp/stage"
  chmod -R u+w "$dest.tmp/stage"
  mv "$dest.tmp" "$dest"
  log "kwok $KWOK_VERSION: built in $((SECONDS - start)) s"
}

build_statsd_exporter() {
  build_go_tool statsd_exporter "$STATSD_EXPORTER_VERSION" github.com/prometheus/statsd_exporter statsd_exporter ""
}

build_kubernetes() {
  local dest="$cache/kubernetes-$KUBERNETES_VERSION"
  # The node binaries (kubelet, kube-proxy) share most packages with the control plane, so all
  # six are built by one `go build`: each package compiles once, on every core.
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
  local missing=0
  for c in "${cmds[@]}"; do [ -x "$dest/$c" ] || missing=1; done
  if [ "$missing" = 0 ]; then log "kubernetes $KUBERNETES_VERSION: cached"; return; fi
  local start=$SECONDS work="$cache/.build/kubernetes"
  throwaway_module "$work"
  cd "$work"
  local v=$KUBERNETES_VERSION staging_version
  staging_version="v0.${v#v1.}"            # v1.34.4 -> v0.34.4
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and points them at local folders;
  # replace each with its published release so the commands build from the proxy.
  local staging
  staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$gomod")
  [ -n "$staging" ] || { echo "install-tools: found no staging modules in $gomod" >&2; exit 1; }
  local args=()
  for m in $staging; do args+=("-replace=$m=$m@$staging_version"); done
  go mod edit "${args[@]}" "-require=k8s.io/kubernetes@$v"
  local pkgs=() paths=()
  # Each package at the pinned version: without it `go get` upgrades k8s.io/kubernetes to the
  # newest release, whose staging requirements no longer match the replaces above.
  for c in "${cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c@$v"); paths+=("k8s.io/kubernetes/cmd/$c"); done
  go get "${pkgs[@]}" >/dev/null
  local minor=${v#v1.}; minor=${minor%%.*}
  local ldflags="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags="$ldflags -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
  go build -trimpath -ldflags "$ldflags" -o "$dest.tmp/" "${paths[@]}"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
  log "kubernetes $KUBERNETES_VERSION: ${cmds[*]} built in $((SECONDS - start)) s ($("$dest/kube-apiserver" --version))"
}

# Cluster DNS of the real test node (its `kubernetes` plugin answers for Services and pods).
build_coredns() {
  build_go_tool coredns "$COREDNS_VERSION" github.com/coredns/coredns coredns \
    "-X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION"
}

# The S3-compatible object store of the tests (run artifacts, remote task logs). Its go.mod
# replaces one module, which a module that requires it must copy.
build_seaweedfs() {
  build_go_tool seaweedfs "$SEAWEEDFS_VERSION" github.com/seaweedfs/seaweedfs/weed weed "" \
    -replace=github.com/tyler-smith/go-bip39=github.com/cosmos/go-bip39@v1.0.0
}

# The Kueue controller manager (quotas and fair queueing of job pods). Its CRDs stay in the Go
# module cache (config/components/crd), where the tests read them: `go mod download` of the
# pinned version brings them back when the cache was cleaned.
build_kueue() {
  build_go_tool kueue "$KUEUE_VERSION" sigs.k8s.io/kueue/cmd/kueue kueue \
    "-X sigs.k8s.io/kueue/pkg/version.GitVersion=$KUEUE_VERSION"
}

# Pod facts for Prometheus (phase, termination reason, requests/limits, the platform's pod labels).
# The proxy serves only exact versions of it (no @v/list, no @latest): see versions.env.
build_kube_state_metrics() {
  build_go_tool kube-state-metrics "$KUBE_STATE_METRICS_VERSION" k8s.io/kube-state-metrics/v2 kube-state-metrics \
    "-X github.com/prometheus/common/version.Version=$KUBE_STATE_METRICS_VERSION"
}

# The sandbox program of the real test node (images/pause), keyed by a hash of its source.
build_pause() {
  local src="$here/../images/pause" hash
  hash=$(cat "$src/go.mod" "$src/pause.go" | sha256sum | cut -c1-12)
  local dest="$cache/pause-$hash"
  [ -x "$dest/pause" ] && { log "pause $hash: cached"; return; }
  local start=$SECONDS
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
  (cd "$src" && go build -trimpath -ldflags "-s -w" -o "$dest.tmp/pause" .)
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
  log "pause $hash: built in $((SECONDS - start)) s"
}

total=$SECONDS
build_helm
build_etcd
build_kwok
build_statsd_exporter
build_kubernetes
build_coredns
build_pause
build_seaweedfs
build_kueue
build_kube_state_metrics
log "all tools ready in $((SECONDS - total)) s under $cache"
