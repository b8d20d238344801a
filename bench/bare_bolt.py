"""The floor for bench/ack_latency.py: a Bolt app whose /incident listener only acks."""
import os

from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def create():
    client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["OPSBOT_SLACK_API_URL"])
    bolt = AsyncApp(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"])

    @bolt.command("/incident")
    async def only_ack(ack):
        await ack()

    return AsyncSlackRequestHandler(bolt)
