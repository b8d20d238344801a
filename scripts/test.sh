#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs opsbot with its test dependencies, makes sure
# the services the tests use are running (PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379, a private
# Docker Engine from scripts/start-docker.sh) and that Prometheus, Alertmanager, Chromium and axe-core are installed,
# then runs pytest.
# A missing service is an error, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,semantic]'

export OPSBOT_TEST_PG_URL=${OPSBOT_TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/postgres}

pg_up() { .venv/bin/python - <<'PY' 2>/dev/null
import os, psycopg
psycopg.connect(os.environ["OPSBOT_TEST_PG_URL"], connect_timeout=3).close()
PY
}

if ! pg_up; then
    echo "PostgreSQL is not answering; trying to start it" >&2
    if ! command -v pg_ctlcluster >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
    if command -v pg_ctlcluster >/dev/null; then
        for version in $(ls /etc/postgresql 2>/dev/null); do
            pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        done
    fi
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
if ! pg_up; then
    echo "FATAL: PostgreSQL is not reachable at $OPSBOT_TEST_PG_URL; the store contract tests need it." >&2
    exit 1
fi

export OPSBOT_TEST_REDIS_URL=${OPSBOT_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
redis_up() { .venv/bin/python -c 'import os, redis; redis.Redis.from_url(os.environ["OPSBOT_TEST_REDIS_URL"], socket_timeout=3).ping()' 2>/dev/null; }
if ! redis_up; then
    echo "Redis is not answering; trying to start it" >&2
    if ! command -v redis-server >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    fi
    command -v redis-server >/dev/null && redis-server --bind 127.0.0.1 --port 6379 --daemonize yes >/dev/null || true
    for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
fi
if ! redis_up; then
    echo "FATAL: Redis is not reachable at $OPSBOT_TEST_REDIS_URL; the health-check tests need it." >&2
    exit 1
fi

# The Prometheus tests start their own server (a loopback port, a temporary data directory) from Debian's package.
if ! command -v prometheus >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "Prometheus is not installed; installing Debian's prometheus" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
if ! command -v prometheus >/dev/null; then
    echo "FATAL: the prometheus binary is missing (apt-get install prometheus); the metric-threshold tests need it." >&2
    exit 1
fi

# The ssh platform tests start their own sshd (Debian's openssh-server) on loopback ports and drive a real pm2
# (npm) as an unprivileged user; both are installed here when missing.
if ! [ -x /usr/sbin/sshd ] && [ "$(id -u)" = 0 ]; then
    echo "sshd is not installed; installing Debian's openssh-server" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
fi
if ! command -v pm2 >/dev/null && command -v npm >/dev/null; then
    echo "pm2 is not installed; installing it from npm" >&2
    npm install -g --silent pm2@7 >/dev/null
fi
if ! [ -x /usr/sbin/sshd ] || ! command -v pm2 >/dev/null; then
    echo "FATAL: sshd (apt-get install openssh-server) and pm2 (npm install -g pm2) are needed by the ssh tests." >&2
    exit 1
fi

# The alert tests start their own Alertmanager (loopback, temporary config and data) from Debian's package.
if ! command -v prometheus-alertmanager >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "Alertmanager is not installed; installing Debian's prometheus-alertmanager" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null
fi
if ! command -v prometheus-alertmanager >/dev/null; then
    echo "FATAL: prometheus-alertmanager is missing (apt-get install prometheus-alertmanager); the alert tests need it." >&2
    exit 1
fi

# The page tests drive Debian's Chromium with Playwright's Python package (never a browser download) and run
# axe-core from npm inside the pages.
if ! [ -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ]; then
    echo "Chromium is not installed; installing Debian's chromium" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if ! [ -x /usr/bin/chromium ]; then
    echo "FATAL: /usr/bin/chromium is missing (apt-get install chromium); the browser tests need it." >&2
    exit 1
fi
if ! [ -f .cache/axe/node_modules/axe-core/axe.min.js ] && command -v npm >/dev/null; then
    echo "axe-core is not installed; installing it from npm into .cache/axe" >&2
    mkdir -p .cache/axe && npm install --prefix .cache/axe --no-save --silent --no-audit --no-fund axe-core@4 >/dev/null
fi
if ! [ -f .cache/axe/node_modules/axe-core/axe.min.js ]; then
    echo "FATAL: axe-core is missing (npm install --prefix .cache/axe axe-core@4); the browser tests need it." >&2
    exit 1
fi

# The Docker platform tests need a real engine; its absence fails the run here, before pytest.
DOCKER_HOST=$(bash scripts/start-docker.sh)
export DOCKER_HOST
# The image test builds opsbot on a Debian base made from Debian's packages (cached by tag: once per machine).
export OPSBOT_BASE_IMAGE=${OPSBOT_BASE_IMAGE:-opsbot-base:bookworm}
bash scripts/base-image.sh >/dev/null || { echo "FATAL: scripts/base-image.sh could not build $OPSBOT_BASE_IMAGE" >&2; exit 1; }

exec .venv/bin/python -m pytest "$@"
