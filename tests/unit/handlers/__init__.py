"""Tests of the pure parts of the kopf glue."""
