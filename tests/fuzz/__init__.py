"""The fuzz suite: bad and unusual inputs over every public entry point (issue 14)."""
