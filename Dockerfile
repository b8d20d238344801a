# opsbot: slim, non-root image running the Slack app.
#   docker build -t opsbot .
#   docker run -p 3000:3000 -e SLACK_BOT_TOKEN -e SLACK_SIGNING_SECRET \
#     -e OPSBOT_DATABASE_URL=postgresql://opsbot:***@db/opsbot opsbot
# BASE_IMAGE: any Debian-like image with python3 (>= 3.11) and venv; the tests build on one made from Debian's
# packages (scripts/base-image.sh), since registries cannot be reached there.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OPSBOT_DATABASE_URL=sqlite:////data/opsbot.db PORT=3000 PATH=/opt/opsbot/bin:$PATH

WORKDIR /app
COPY pyproject.toml README.md manifest.yml opsbot.example.yml ./
COPY bot ./bot
COPY commands ./commands
# A virtualenv: the same steps on the slim image and on Debian's python3 (whose system pip refuses installs).
RUN python3 -m venv /opt/opsbot && /opt/opsbot/bin/pip install . \
    && useradd --create-home --uid 10001 --user-group opsbot && mkdir /data && chown opsbot:opsbot /data

# A numeric user, so Kubernetes can verify runAsNonRoot.
USER 10001
VOLUME /data
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz')"
CMD ["opsbot", "serve"]
