"""Jurisdictions and categories: where a case belongs and who should handle it."""
