"""opsbot's one HTTP application (Starlette), served by `opsbot serve` with or without Slack: the operator's
endpoints (/healthz, /metrics), alert intake (/alerts/*) and, when Slack is configured over HTTP, /slack/events.
`app.py` declares the routes and the lifespan, `slack.py` mounts Slack's endpoint, `server.py` runs uvicorn."""
