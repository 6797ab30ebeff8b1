"""A local page that behaves like a Slack channel for the bot: `make run` without Slack credentials.

The playground drives the real Bolt app exactly as Slack would (signed requests to ``/slack/events``),
and turns the bot's Web API calls and response-URL posts, which land on a ``FakeSlackWebAPI``, into
what the page shows. There is no playground-specific code inside the bot.
"""

from bot.local.playground.server import Playground, create_playground, run_playground

__all__ = ["Playground", "create_playground", "run_playground"]
