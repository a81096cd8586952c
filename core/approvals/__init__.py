"""Approval processes: records submitted, decided by approvers step by step, locked while pending."""
