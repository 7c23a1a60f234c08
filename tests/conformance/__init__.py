"""Conformance tests against the published standards in ../shared/reference (skipped when absent)."""
