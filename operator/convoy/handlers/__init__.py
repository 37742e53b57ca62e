"""Handlers: thin kopf glue. Events in, the planner, the adapters, one status patch out."""
