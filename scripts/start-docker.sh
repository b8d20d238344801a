#!/usr/bin/env bash
# A private Docker Engine for the tests, on its own socket, plus tiny local images (nothing is pulled).
# Prints the DOCKER_HOST to use. Idempotent: an engine already answering is reused.
set -euo pipefail
ROOT=${OPSBOT_DOCKER_ROOT:-/tmp/opsbot-docker}
SOCK="$ROOT/docker.sock"
export DOCKER_HOST="unix://$SOCK"

if ! command -v dockerd >/dev/null || [ ! -x /bin/busybox ]; then
    if [ "$(id -u)" != 0 ]; then echo "FATAL: docker.io and busybox-static are needed (apt-get install)" >&2; exit 1; fi
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io busybox-static >&2
fi
# The Compose tests drive a real docker-compose (1.29, Debian's package) against this engine.
if ! command -v docker-compose >/dev/null; then
    if [ "$(id -u)" != 0 ]; then echo "FATAL: docker-compose is needed (apt-get install docker-compose)" >&2; exit 1; fi
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 docker-compose >&2
fi
command -v docker-compose >/dev/null || { echo "FATAL: docker-compose could not be installed" >&2; exit 1; }

if ! docker info >/dev/null 2>&1; then
    mkdir -p "$ROOT/data" "$ROOT/exec"
    setsid nohup dockerd -H "$DOCKER_HOST" --data-root "$ROOT/data" --exec-root "$ROOT/exec" --pidfile "$ROOT/dockerd.pid" \
        --iptables=false --bridge=none --storage-driver=vfs >"$ROOT/dockerd.log" 2>&1 &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || { echo "FATAL: dockerd did not start; see $ROOT/dockerd.log" >&2; tail -20 "$ROOT/dockerd.log" >&2; exit 1; }
fi

# Two versions of a busybox image, so rollback has somewhere to go back to.
for version in 1 2; do
    if ! docker image inspect "opsbot-busybox:$version" >/dev/null 2>&1; then
        tree=$(mktemp -d)
        mkdir -p "$tree/bin"
        cp /bin/busybox "$tree/bin/busybox"
        for applet in sh sleep echo cat ls date; do ln -s busybox "$tree/bin/$applet"; done
        echo "$version" >"$tree/VERSION"
        tar -C "$tree" -c . | docker import --change 'CMD ["/bin/sh"]' - "opsbot-busybox:$version" >/dev/null
        rm -rf "$tree"
    fi
done
echo "$DOCKER_HOST"
