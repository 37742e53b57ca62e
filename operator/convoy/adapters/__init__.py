"""Adapters: the only code that talks to the Kubernetes API. Each function ensures one thing, idempotently,
keyed by run and step, so performing it again after a restart changes nothing."""
