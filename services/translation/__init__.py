"""Translation into French: every coded element of country A's pivot document, original kept beside it."""
