"""What a backtest leaves behind: metrics, the offline HTML report and the run folder.

Owns: `metrics.py` (every figure of a run, deterministic: math.fsum, fixed order, no `**`),
`html.py` (one self-contained HTML file with plotly's JS embedded, charts and the assumption
manifest) and `run_folder.py` (the rows the runner hands over, the Parquet/JSON files, the CLI's
summary table).
Never: imports beyond core, model, config and catalog (DESIGN.md §2), reaches the internet, or
writes a secret.
"""
