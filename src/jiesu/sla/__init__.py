"""Deadlines of a case: response, resolution and feedback clocks."""
