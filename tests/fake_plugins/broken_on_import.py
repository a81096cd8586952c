"""A plugin whose module fails while it is imported."""

raise RuntimeError("the licence file is missing")
