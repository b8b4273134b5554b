"""Importing entry records (JSON Lines now; more formats with the import issue)."""
