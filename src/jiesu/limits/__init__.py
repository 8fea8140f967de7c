"""Limits on what a request may bring: body size, storable text, request rates."""
