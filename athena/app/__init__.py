"""Composition roots: one module per job the CLI runs (backtest, live, sim-server, data).

Owns: wiring the layers for a job from config — the catalog, replay, simulated exchange, gateway,
OMS and strategies for a backtest; the importers and checks behind ``athena data`` — and nothing
else. It may import every athena layer but ``cli.py``.
Never: holds trading logic, or prints (the CLI prints what these return).
"""
