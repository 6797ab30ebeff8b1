"""Block Kit, built by pure functions: data in, JSON-ready dicts out, no Slack calls. One module per
surface, named after the listener that sends it (blocks/survive.py for listeners/commands/survive.py,
blocks/form.py for the /survive form, blocks/retrain.py for /retrain and its run message); kit.py
holds the small pieces they share. They are tested on their own (tests/bot/blocks)."""
