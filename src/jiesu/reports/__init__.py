"""Supervision: the three rates and the composite score, overdue watch, hot spots, exclusions, CSV."""
