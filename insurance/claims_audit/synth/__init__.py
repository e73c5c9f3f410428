"""Synthetic claims with planted fraud patterns and near-misses, written independently of the
rules they measure (``hub synth claims``), and the rules' per-rule precision and recall.

Pure: :mod:`.generate` (the month), :mod:`.score`. I/O: :mod:`.files` (NDJSON, truth.csv),
:mod:`.store_io` (bulk load, recorded findings).
"""
