"""Reports: definitions read against metadata (definition.py), relative periods (periods.py), and runs as a reader
(running.py)."""
