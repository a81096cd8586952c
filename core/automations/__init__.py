"""Workflow rules: what happens by itself when records change, at a time, on a schedule or at a button."""
