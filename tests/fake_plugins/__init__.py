"""Small plugins that exercise the plugin manager's refusals and hooks."""
