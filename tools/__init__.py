"""Repository tools (run as scripts from the Makefile; importable for tests)."""
