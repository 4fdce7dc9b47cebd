"""Pure functions from handler view models to Block Kit (messages, modals, App Home)."""
