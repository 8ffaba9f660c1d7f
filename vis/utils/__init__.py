"""Utilities: layer look-up, image helpers, plotting, the bundled digits data."""
