#!/usr/bin/env bash
# The base image the Docker image test builds opsbot on: registries' images cannot be pulled here, so a
# minimal Debian bookworm with python3 is made from Debian's packages (debootstrap) and `docker import`ed into
# the private engine (scripts/start-docker.sh). Cached by tag: done once per machine. Prints the tag.
# Any failure is fatal: the image test needs it and must not be skipped.
set -euo pipefail
TAG=${OPSBOT_BASE_IMAGE:-opsbot-base:bookworm}
MIRROR=${OPSBOT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
export DOCKER_HOST=${DOCKER_HOST:-unix:///tmp/opsbot-docker/docker.sock}

if docker image inspect "$TAG" >/dev/null 2>&1; then echo "$TAG"; exit 0; fi

# One build at a time on this machine (other worktrees share the engine and the tag).
exec 9>/tmp/opsbot-base-image.lock
flock 9
if docker image inspect "$TAG" >/dev/null 2>&1; then echo "$TAG"; exit 0; fi

if ! command -v debootstrap >/dev/null; then
    if [ "$(id -u)" != 0 ]; then echo "FATAL: debootstrap is needed (apt-get install debootstrap)" >&2; exit 1; fi
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 debootstrap >&2
fi
if [ "$(id -u)" != 0 ]; then echo "FATAL: debootstrap needs root to build $TAG" >&2; exit 1; fi

tree=$(mktemp -d /tmp/opsbot-base.XXXXXX)
trap 'rm -rf "$tree"' EXIT
chmod 755 "$tree"  # mktemp made it 0700; it becomes the image's /, which every user must traverse
# python3-venv brings ensurepip (pip inside the venv); ca-certificates so pip can reach PyPI over TLS.
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$tree" "$MIRROR" >&2
# Trust the CAs this machine trusts beyond Debian's (a TLS-inspecting proxy in front of PyPI, say), so pip
# inside the image build reaches the registry the way pip on the host does.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$tree/usr/local/share/ca-certificates/"
    chroot "$tree" update-ca-certificates >&2
fi
rm -rf "$tree"/var/cache/apt/archives/*.deb "$tree"/var/lib/apt/lists/*
tar -C "$tree" -c . \
    | docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/bash"]' - "$TAG" >/dev/null
echo "$TAG"
