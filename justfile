# Developer recipes. `just setup` once, then `just test`, `just lint`, `just bench`, `just demo`.

set shell := ["bash", "-cu"]

venv := ".venv"
# the project's venv once `just setup` made it, else whatever python3 is on PATH
python := if path_exists(venv / "bin/python") == "true" { venv / "bin/python" } else { "python3" }

# list the recipes
default:
    @just --list

# create .venv and install Athena with its dev tools (pytest, ruff, hypothesis)
setup:
    python3 -m venv {{venv}}
    {{venv}}/bin/python -m pip install --upgrade pip
    {{venv}}/bin/python -m pip install -e '.[dev]'

# run the test suite (the same command as the README and CI)
test *args:
    {{python}} -m pytest {{args}}

# ruff, then the layer checker of ../shared when it is beside this checkout
lint:
    {{python}} -m ruff check .
    if [ -f ../shared/tools/layers.py ]; then {{python}} ../shared/tools/layers.py; fi

# run every bench/bench_*.py; each prints JSON lines (events/s, peak RSS)
bench:
    #!/usr/bin/env bash
    set -euo pipefail
    shopt -s nullglob
    files=(bench/bench_*.py)
    if [ ${#files[@]} -eq 0 ]; then echo "bench: no bench/bench_*.py yet" >&2; exit 0; fi
    for f in "${files[@]}"; do {{python}} "$f"; done

# backtest the embedded sample (data/sample)
demo:
    {{python}} -m athena backtest --data data/sample
