"""The console twin: the Slack views rendered in the terminal, slash commands typed there,
buttons pressed by number. ``handoff run`` offers it when no Slack tokens are set."""
