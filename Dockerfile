# opsbot: slim, non-root image running the Slack app.
#   docker build -t opsbot .
#   docker run -p 3000:3000 -e SLACK_BOT_TOKEN -e SLACK_SIGNING_SECRET \
#     -e OPSBOT_DATABASE_URL=postgresql://opsbot:***@db/opsbot opsbot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    OPSBOT_DATABASE_URL=sqlite:////data/opsbot.db PORT=3000

WORKDIR /app
COPY pyproject.toml README.md manifest.yml opsbot.example.yml ./
COPY bot ./bot
COPY commands ./commands
RUN pip install . && useradd --create-home --uid 10001 opsbot && mkdir /data && chown opsbot /data

USER opsbot
VOLUME /data
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz')"
CMD ["opsbot", "serve"]
