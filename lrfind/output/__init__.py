"""A result, written down: report.json, lr_finder.png and the terminal's table and lines.

No torch: files (atomic writes), report (the writer), reader (the one
validated reader, and a result rebuilt from a report), plot and plot_repeats
(matplotlib, imported when a plot is drawn), terminal (rich tables and lines).
"""
