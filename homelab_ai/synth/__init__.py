"""Output: dist/ written all or nothing, the generated docs, and finding the user's chart app."""
