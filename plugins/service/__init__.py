"""Service: equipment maintenance tickets, SLAs and maintenance plans."""
