"""Benchmarks against the targets of issue 7; run with ``python -m bench [--quick] [--only N]``.

Each benchmark is a plain function that builds its own data in a fresh database, runs the product's real
code path (the services in ``models/``, the ASGI app under uvicorn, a Prefect flow), and returns
``Figure`` rows: the measured value next to its target. ``tests/test_bench_smoke.py`` runs every function
at a tiny size so this code cannot rot; timings are only asserted here, by a human reading the table.
"""
