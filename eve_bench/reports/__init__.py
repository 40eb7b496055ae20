"""Reports from finished runs: leaderboards (markdown, CSV, plots, HTML with a gallery), EVE's paper
tables, ground-truth-judged preferences and the metric-validity report. They read run folders
(eve_bench.run.results) and never write into them; rows.py is what they share."""
