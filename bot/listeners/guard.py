"""Failures inside listeners: the log gets the traceback, the user a friendly line, Slack its ack.

Why listeners are wrapped instead of leaving everything to `@app.error`: in slack-bolt 1.30's
`ThreadListenerRunner`, an exception raised *after* `ack()` resets `ack.response` to None (and may
set status 500 on the response the request thread is about to return). Depending on when the
request thread, which looks at `ack.response` every 10 ms, looks, Slack gets the ack, a 500, or a
404 after 3 s ("didn't call ack()"): the user sees an error and a modal stays stuck. (HTTP mode
also answers at ack() itself, see `bot.transport.http`; Socket Mode relies on Bolt's runner alone.) So a
failure after ack() is handled here and not re-raised. A failure before ack() is re-raised: the
app's error handler then answers the request itself.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt.kwargs_injection.args import Args
from slack_sdk import WebClient

from bot.blocks import form as survive_form
from bot.listeners.replies import deliver, failure_reply
from bot.services import CONTEXT_KEY
from bot.transport.ingress import REQUEST_ID
from bot.transport.observe import answer_done, describe, user_of

log = logging.getLogger("lifeboat.bot")

_ARG_NAMES = frozenset(inspect.signature(Args.__init__).parameters) - {"self", "kwargs"} | {"request"}


def tell_user(body: Any, context: Any, client: WebClient | None) -> None:
    """Best effort: the friendly failure message where the answer would have gone."""
    reply = failure_reply()
    try:
        respond = context.respond if context is not None and context.response_url else None
        if respond is not None:
            respond(replace_original=False, **reply.as_kwargs())
            return
        user = user_of(body)
        if client is None or not user:
            return
        view = body.get("view") if isinstance(body, Mapping) else None
        metadata = view.get("private_metadata") if isinstance(view, Mapping) else None
        channel = (context.channel_id if context is not None else None) or survive_form.channel_from_metadata(
            metadata
        )
        services = context.get(CONTEXT_KEY) if context is not None else None
        deliver(
            client,
            user,
            channel,
            reply,
            stats=services.delivery if services is not None else None,
            request_id=context.get(REQUEST_ID) if context is not None else None,
        )
    except Exception:  # the log already has the cause; don't fail the failure path
        log.warning("could not tell the user about the failure", exc_info=True)


def guarded(listener: Callable[..., None]) -> Callable[..., None]:
    """Wrap a listener (any of Bolt's injectable argument names) so that an exception after
    `ack()` is logged and reported to the user instead of being raised into Bolt (see above)."""
    names = list(inspect.signature(listener).parameters)
    unknown = set(names) - _ARG_NAMES
    if unknown:
        raise TypeError(f"{listener.__name__}: not a Bolt listener argument: {sorted(unknown)}")

    # Bolt injects by parameter name; `args` gets everything. No functools.wraps: Bolt would unwrap
    # __wrapped__ and read the inner signature.
    def run(args: Args) -> None:
        try:
            listener(**{name: getattr(args, name) for name in names})
        except Exception:
            if args.ack.response is None:
                raise  # not acknowledged: the app's error handler answers this request
            log.exception(
                "listener %s failed after ack (%s, request %s)",
                listener.__name__,
                describe(args.body),
                args.context.get(REQUEST_ID),
            )
            tell_user(args.body, args.context, args.client)
            answer_done(args.context, args.body, failed=True)
        else:
            answer_done(args.context, args.body, failed=False)

    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(run, attribute, getattr(listener, attribute))
    return run


__all__ = ["describe", "guarded", "tell_user", "user_of"]
