"""After the sweep: compare, diagnose, schedule, and their tables and figures.

compare (drift between two reports), losses (reading a training log),
diagnose (what the log says about the LR), schedule (the real torch
schedulers, stepped: torch is imported inside it), report_plan (what a
report kept of the run's plan, for schedule --from-report), tables, figures.
"""
