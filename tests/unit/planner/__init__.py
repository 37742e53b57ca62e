"""Table-driven tests of the pure planner, driven through a simulated cluster (`sim.py`)."""
