"""Matching: retrieve candidates, normalise scores, verify geometry, decide the verdict."""
