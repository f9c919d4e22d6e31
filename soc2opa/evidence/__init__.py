"""Audit evidence: every evaluation recorded in an append-only, hash-chained store."""
