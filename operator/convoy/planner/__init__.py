"""The pure planner: from (spec, status, observed objects, now) to the next status and the actions to take.

No I/O, no clock, no Kubernetes client: everything it knows arrives as arguments, so every transition is a
table-driven unit test.
"""
