#!/usr/bin/env bash
# Brings up what the Docker-backed tests and the demo need: a Docker Engine in swarm mode and
# the tiny local image mass-autoscaler-test:busybox. Safe to run again; does only what is missing.
# The image has the busybox tools the twin's worker (test/fakes/worker.sh) needs; an older build
# of the image without them (no TOOLS label) is rebuilt.
set -euo pipefail

IMAGE="${TEST_IMAGE:-mass-autoscaler-test:busybox}"
log() { echo "setup-docker: $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v dockerd >/dev/null 2>&1 || ! [ -x /bin/busybox ]; then
  if command -v apt-get >/dev/null 2>&1; then
    log "installing docker.io and busybox-static with apt-get"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq docker.io busybox-static >/dev/null
  else
    log "dockerd or busybox is missing and apt-get is not available: install Docker Engine and a static busybox by hand"
    exit 1
  fi
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  # dockerd outlives this script: it must not inherit a descriptor the caller holds, such as the
  # lock of `flock /tmp/mass-docker.lock bash scripts/setup-docker.sh` (it would hold the lock for good).
  as_root sh -c 'exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; nohup dockerd >/var/log/dockerd-mass-autoscaler.log 2>&1 &'
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not come up; see /var/log/dockerd-mass-autoscaler.log"; tail -20 /var/log/dockerd-mass-autoscaler.log >&2 || true; exit 1; }
fi

if [ "$(docker info -f '{{.Swarm.LocalNodeState}}')" != "active" ]; then
  log "initialising a single-node swarm"
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null
fi

TOOLS="sh sleep true cat echo wget sed grep awk nc kill"
tools_label() { docker image inspect -f '{{index .Config.Labels "com.mass.test.tools"}}' "$IMAGE" 2>/dev/null || true; }
if [ "$(tools_label)" != "$TOOLS" ]; then
  log "building $IMAGE from the static busybox (tools: $TOOLS)"
  # The image this build replaces, if any: once the tag moves it would be left dangling (<none>).
  previous=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
  root=$(mktemp -d)
  mkdir -p "$root/bin"
  cp /bin/busybox "$root/bin/busybox"
  for tool in $TOOLS; do ln -s busybox "$root/bin/$tool"; done
  mkdir -p "$root/tmp"
  chmod 1777 "$root/tmp"
  tar -C "$root" -c . | docker import -c 'CMD ["/bin/sleep","86400"]' -c "LABEL com.mass.test.tools=\"$TOOLS\"" - "$IMAGE" >/dev/null
  rm -rf "$root"
  # Only the replaced image, and only when nothing else names it now; a container still made
  # from it keeps it (the Engine refuses), which is said, not fatal.
  if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect -f '{{.Id}}' "$IMAGE")" ] &&
    [ "$(docker image inspect -f '{{len .RepoTags}}' "$previous" 2>/dev/null)" = "0" ]; then
    if docker image rm "$previous" >/dev/null 2>&1; then
      log "removed the image it replaced (${previous#sha256:})"
    else
      log "the image it replaced (${previous#sha256:}) is still used by a container; left in place"
    fi
  fi
fi

log "ready: swarm active, image $IMAGE present"
