"""`kubectl convoy`: the plugin people use to watch, start and steer Convoy runs from a terminal or a CI script.

The top of the layers (`cli → handlers → adapters → planner → api`): it reads the API models and the validator,
and talks to the cluster itself, synchronously, through the `kubernetes` client (`kube.py`). Rendering
(`tree.py`, `pipeline_tree.py`) is pure, so the golden files in tests/unit/cli pin down what people see.

Exit codes:

    0  success: the command did what was asked (a followed run Succeeded)
    1  failure: the run ended Failed, RolledBack or Aborted; the API server refused a request (e.g. an approver
       check); lint found problems
    2  usage error (bad flags or arguments), or --wait ran out of --timeout
    3  not found (no such run or workflow), or the cluster is unreachable or no kubeconfig was found
  130  interrupted (Ctrl-C)
"""
