"""Entitlements: may this workspace do this paid action now?  One gate for every paid route."""
