"""Analysis of HDF5 traces: tables, plots, a network model and a markdown report.

    from hpcsketch.analysis import load
    results = load.load(["results/"])      # runs, steps, timing tables
    results.runs[["label", "status", "final_eval_accuracy"]]

Modules: ``load`` (traces -> tables), ``tables`` (derived tables), ``plots``
(figures returning their data), ``network`` (link model and predicted times),
``report`` (report.md, CSV, figures), ``cli`` (``hpcsketch analyze``).
Importing this package imports neither matplotlib nor pandas.
"""
