"""lifeboat Slack front end: the Bolt app, its listeners and Block Kit views."""
