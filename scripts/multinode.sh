#!/usr/bin/env bash
# A multi-node Docker Swarm on one machine, for test/multinode: 3 managers and 1 worker, each a
# Docker Engine in its own network namespace on a test-only subnet (10.77.0.0/24), with the local
# test image imported on every node. Recipe and traps: docs TESTING.md, "A multi-node swarm on
# one machine". Needs root, dockerd, nsenter, ip, iptables and /bin/busybox.
#
#   scripts/multinode.sh up                 build the swarm; writes $MULTINODE_DIR/nodes.json
#   scripts/multinode.sh down               remove everything `up` made (safe to run twice, or after a failed up)
#   scripts/multinode.sh status             what is running
#   scripts/multinode.sh stop-node NAME     stop one node's Engine (by its pid file)
#   scripts/multinode.sh kill-node NAME     lose one node at once: SIGKILL its Engine, containerd, shims
#                                           and containers (a power cut; `down` cleans up after it)
#   scripts/multinode.sh start-node NAME    start it again (it rejoins the swarm by itself)
#
# Only the Engines this script started are ever stopped, each by its own pid file; the machine's
# main Engine (/var/run/docker.sock) is never touched.
set -euo pipefail

DIR="${MULTINODE_DIR:-/tmp/mass-multinode}"
PREFIX="${MULTINODE_PREFIX:-matmn}" # namespaces, links and the bridge are named after it
BRIDGE="${PREFIX}br0"
SUBNET_BASE="${MULTINODE_SUBNET:-10.77.0}"
IMAGE="${TEST_IMAGE:-mass-autoscaler-test:busybox}"
MANAGERS=(n1 n2 n3)
WORKERS=(n4)
NODES=("${MANAGERS[@]}" "${WORKERS[@]}")

log() { echo "multinode: $*" >&2; }
die() {
  log "$*"
  exit 1
}

addr_of() { echo "$SUBNET_BASE.1${1#n}"; }
ns_of() { echo "${PREFIX}-$1"; }
sock_of() { echo "$DIR/$1/docker.sock"; }
pidfile_of() { echo "$DIR/$1/docker.pid"; }
dk() {
  local node=$1
  shift
  docker -H "unix://$(sock_of "$node")" "$@"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Waits for a pid to end; SIGKILL after the given seconds.
stop_pid() {
  local pid=$1 grace=${2:-20}
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((grace * 10))); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "pid $pid did not stop in ${grace}s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
}

start_engine() {
  local node=$1 ns
  ns=$(ns_of "$node")
  mkdir -p "$DIR/$node/data" "$DIR/$node/exec"
  if alive "$(pidfile_of "$node")"; then
    log "$node: Engine already running (pid $(cat "$(pidfile_of "$node")"))"
    return 0
  fi
  rm -f "$(pidfile_of "$node")" "$(sock_of "$node")"
  # nsenter, not `ip netns exec`: the latter remounts /sys and hides the cgroup mounts.
  nsenter --net="/var/run/netns/$ns" setsid dockerd \
    --data-root "$DIR/$node/data" \
    --exec-root "$DIR/$node/exec" \
    --pidfile "$(pidfile_of "$node")" \
    -H "unix://$(sock_of "$node")" \
    --storage-driver overlay2 \
    >>"$DIR/$node/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 600); do
    if [ -S "$(sock_of "$node")" ] && dk "$node" version >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  tail -20 "$DIR/$node/dockerd.log" >&2 || true
  die "$node: Engine did not come up in 60s; see $DIR/$node/dockerd.log"
}

stop_engine() {
  local node=$1 pidfile
  pidfile=$(pidfile_of "$node")
  if alive "$pidfile"; then
    stop_pid "$(cat "$pidfile")" 30
  fi
  # The Engine's own containerd, if the Engine died without stopping it.
  local cpid="$DIR/$node/exec/containerd/containerd.pid"
  if alive "$cpid"; then stop_pid "$(cat "$cpid")" 10; fi
}

# A node lost at once: its Engine, its containerd, the shims under its exec folder and every
# process below them (the containers) get SIGKILL together, so nothing on it says goodbye.
kill_engine() {
  local node=$1 pid roots=() all=()
  alive "$(pidfile_of "$node")" && roots+=("$(cat "$(pidfile_of "$node")")")
  alive "$DIR/$node/exec/containerd/containerd.pid" && roots+=("$(cat "$DIR/$node/exec/containerd/containerd.pid")")
  for pid in $(pgrep -f -- "$DIR/$node/exec/" || true); do roots+=("$pid"); done
  [ ${#roots[@]} -gt 0 ] || die "$node: nothing runs"
  # Every descendant of those roots, breadth first over the parent links.
  local queue=("${roots[@]}")
  while [ ${#queue[@]} -gt 0 ]; do
    pid=${queue[0]}
    queue=("${queue[@]:1}")
    [[ " ${all[*]} " == *" $pid "* ]] && continue
    all+=("$pid")
    for child in $(pgrep -P "$pid" || true); do queue+=("$child"); done
  done
  kill -KILL "${all[@]}" 2>/dev/null || true
  for _ in $(seq 1 100); do
    local left=0
    for pid in "${all[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    [ $left -eq 0 ] && break
    sleep 0.1
  done
  log "$node: killed ${#all[@]} processes (Engine, containerd, shims, containers)"
}

# Container shims left by an Engine that was killed: found by the nodes' own exec folders.
stop_orphans() {
  local pid cmd
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    cmd=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null || true)
    case "$cmd" in
      *"$DIR/"*"/exec/"*) stop_pid "$pid" 5 ;;
    esac
  done
}

write_nodes_json() {
  local first=1 node role
  {
    echo '{"nodes": ['
    for node in "${NODES[@]}"; do
      role=manager
      [[ " ${WORKERS[*]} " == *" $node "* ]] && role=worker
      [ $first -eq 1 ] || echo ','
      first=0
      printf '  {"name": "%s", "role": "%s", "addr": "%s", "host": "unix://%s", "pidfile": "%s"}' \
        "$node" "$role" "$(addr_of "$node")" "$(sock_of "$node")" "$(pidfile_of "$node")"
    done
    echo
    echo ']}'
  } >"$DIR/nodes.json"
}

up() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (namespaces, links, firewall)"
  for tool in dockerd docker nsenter ip iptables; do command -v "$tool" >/dev/null || die "$tool is missing"; done
  [ -x /bin/busybox ] || die "/bin/busybox is missing (Debian: busybox-static)"
  mkdir -p "$DIR"
  trap 'log "up failed; run: $0 down"' ERR

  # 1. The bridge and, per node, a namespace with a veth pair.
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$SUBNET_BASE.1/24" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  for node in "${NODES[@]}"; do
    local ns host_end
    ns=$(ns_of "$node")
    host_end="${PREFIX}${node}"
    [ -e "/var/run/netns/$ns" ] || ip netns add "$ns"
    if ! ip link show "$host_end" >/dev/null 2>&1; then
      ip link add "$host_end" type veth peer name eth0 netns "$ns"
      ip link set "$host_end" master "$BRIDGE" up
    fi
    ip -n "$ns" link set lo up
    ip -n "$ns" addr replace "$(addr_of "$node")/24" dev eth0
    ip -n "$ns" link set eth0 up
    # No default route: the nodes reach each other on the subnet and nothing else (an image
    # pull attempt fails at once instead of waiting for a DNS server it must not talk to).
  done
  # 2. Docker's FORWARD policy is DROP and bridged traffic passes iptables.
  # And nothing from the bridge is forwarded anywhere else.
  iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null ||
    iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
  iptables -C FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -j DROP 2>/dev/null ||
    iptables -A FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -j DROP

  # 3. The Engines.
  for node in "${NODES[@]}"; do start_engine "$node" & done
  wait

  # 4. The swarm.
  local lead=${MANAGERS[0]}
  if [ "$(dk "$lead" info -f '{{.Swarm.LocalNodeState}}')" != active ]; then
    dk "$lead" swarm init --advertise-addr "$(addr_of "$lead")" >/dev/null
  fi
  local mtoken wtoken
  mtoken=$(dk "$lead" swarm join-token -q manager)
  wtoken=$(dk "$lead" swarm join-token -q worker)
  for node in "${NODES[@]:1}"; do
    [ "$(dk "$node" info -f '{{.Swarm.LocalNodeState}}')" = active ] && continue
    local token=$mtoken
    [[ " ${WORKERS[*]} " == *" $node "* ]] && token=$wtoken
    dk "$node" swarm join --token "$token" --advertise-addr "$(addr_of "$node")" "$(addr_of "$lead"):2377" >/dev/null
  done
  # Each node is named after its folder, so tests can find it: the hostnames are all the same.
  for node in "${NODES[@]}"; do
    local id
    id=$(dk "$node" info -f '{{.Swarm.NodeID}}')
    dk "$lead" node update --label-add "mass.multinode.name=$node" "$id" >/dev/null
  done

  # 5. No registry: the test image on every node.
  local root
  root=$(mktemp -d)
  mkdir -p "$root/bin"
  cp /bin/busybox "$root/bin/busybox"
  for tool in sh sleep true cat echo; do ln -s busybox "$root/bin/$tool"; done
  tar -C "$root" -cf "$DIR/image.tar" .
  rm -rf "$root"
  for node in "${NODES[@]}"; do
    dk "$node" image inspect "$IMAGE" >/dev/null 2>&1 ||
      dk "$node" import -c 'CMD ["/bin/sleep","86400"]' "$DIR/image.tar" "$IMAGE" >/dev/null &
  done
  wait
  for node in "${NODES[@]}"; do dk "$node" image inspect "$IMAGE" >/dev/null || die "$node: image import failed"; done

  write_nodes_json
  trap - ERR
  log "ready: ${#MANAGERS[@]} managers, ${#WORKERS[@]} worker; nodes in $DIR/nodes.json"
}

down() {
  # Services first, while the swarm still has its managers.
  for node in "${MANAGERS[@]}"; do
    if [ -S "$(sock_of "$node")" ] && dk "$node" node ls >/dev/null 2>&1; then
      local ids
      ids=$(dk "$node" service ls -q 2>/dev/null || true)
      [ -z "$ids" ] || dk "$node" service rm $ids >/dev/null 2>&1 || true
      break
    fi
  done
  for node in "${NODES[@]}"; do stop_engine "$node" & done
  wait
  stop_orphans
  for node in "${NODES[@]}"; do
    local ns
    ns=$(ns_of "$node")
    ip link del "${PREFIX}${node}" 2>/dev/null || true
    [ -e "/var/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  while iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null; do
    iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
  done
  while iptables -C FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -j DROP 2>/dev/null; do
    iptables -D FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -j DROP
  done
  if [ -d "$DIR" ]; then
    # Cgroups of the containers of a killed node (kill-node): runc had no chance to remove them.
    local id cg
    for id in $(find "$DIR" -mindepth 4 -maxdepth 4 -path '*/data/containers/*' -printf '%f\n' 2>/dev/null); do
      for cg in /sys/fs/cgroup/*/docker/"$id" /sys/fs/cgroup/docker/"$id"; do
        [ -d "$cg" ] && { rmdir "$cg" 2>/dev/null || true; }
      done
    done
    # Unmount what the Engines left mounted under their folders, deepest first.
    awk -v d="$DIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    rm -rf "$DIR"
  fi
  log "down: nothing left"
}

status() {
  local node
  for node in "${NODES[@]}"; do
    if alive "$(pidfile_of "$node")"; then
      echo "$node $(addr_of "$node") pid $(cat "$(pidfile_of "$node")") $(dk "$node" info -f '{{.Swarm.LocalNodeState}} manager={{.Swarm.ControlAvailable}}' 2>/dev/null || echo unreachable)"
    else
      echo "$node $(addr_of "$node") stopped"
    fi
  done
  for node in "${MANAGERS[@]}"; do
    if alive "$(pidfile_of "$node")" && dk "$node" node ls 2>/dev/null; then break; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  stop-node) stop_engine "${2:?node name}" ;;
  kill-node) kill_engine "${2:?node name}" ;;
  start-node) start_engine "${2:?node name}" ;;
  *)
    echo "usage: $0 up|down|status|stop-node NAME|kill-node NAME|start-node NAME" >&2
    exit 2
    ;;
esac
