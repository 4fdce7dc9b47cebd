"""The Slack face of Handoff: a Bolt app whose listeners call ``bot/handlers`` and render with
``bot/views``, and the alert sink that posts failures to the watched channel."""
