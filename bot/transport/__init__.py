"""How requests reach the app and answers reach Slack: HTTP mode and its checks before Bolt
(ingress, replays), replies retried when Slack fails (respond, delivery), and running a server."""
