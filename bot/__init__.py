"""The Seedance video bot's domain (see ARCHITECTURE.md)."""

# Kept equal to pyproject.toml's version (a test checks); logged at start.
VERSION = "0.1.0"
