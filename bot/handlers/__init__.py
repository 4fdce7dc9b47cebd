"""Command handlers: they take a :class:`~bot.handlers.context.HandlerContext` and return view
models. Slack and the console twin both call them; ``bot/views`` turns the results into
Block Kit. A command handler's docstring is its ``/handoff help`` line."""
