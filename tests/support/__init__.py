"""What several test modules share: fixtures and helpers (see each module)."""
