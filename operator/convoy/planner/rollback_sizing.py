"""Per-phase rollback sizing, as the reference does it for a post-deployment rollback. Pure.

Each phase's share of what was deployed is applied to what is running now, rounded half up; phases roll back in
reverse order, and the last rollback phase (the first phase deployed) takes whatever is left. The reference's
example: 8 instances deployed by a four-phase canary (10%, 20%, 30%, 40% splits gave 1, 2, 2 and 3 instances),
15 running at rollback time:

    rollback phase 4:  15 * 3/8 = 5.625  -> 6
    rollback phase 3:  15 * 2/8 = 3.75   -> 4
    rollback phase 2:  15 * 2/8 = 3.75   -> 4
    rollback phase 1:  the rest             1

Where Convoy uses it: every rollback of a replica-split canary, in flight or after it succeeded
(planner/canary.py rollback). The sizes are fixed in the run's status (status.rollback[].instances and .pods)
when the first rollback step runs, before any pod moves, and a Rollback object mirrors them. In flight, what runs
is what the run deployed, so the sizes are the pods each phase added (the equivalence is a unit test); after the
service was scaled (by hand, or by its HorizontalPodAutoscaler), they are the phases' shares of what runs then.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction


def rollback_sizes(deployed: Sequence[int], running: int) -> list[int]:
    """How many instances each rollback phase handles, in rollback order (the last phase deployed first).

    `deployed`: instances each phase deployed, in deployment order. `running`: instances running now.
    """
    if not deployed:
        return []
    total = sum(deployed)
    left = running
    sizes = []
    for count in reversed(deployed[1:]):
        share = Fraction(count, total) * running if total else Fraction(0)
        size = min(left, int(share + Fraction(1, 2)))  # half up, as the reference rounds 5.625 and 3.75
        sizes.append(size)
        left -= size
    sizes.append(left)
    return sizes
