"""The generated web UI: HTML controllers, Jinja2 templates and static files."""
