"""Loading many records at once: a facility's patient list from CSV, and re-linking in batch.

:mod:`.csv_file` checks the file whole, :mod:`.csv_patient` turns a row into a Patient (pure),
:mod:`.bulk` writes them through the store and registers them in one transaction;
:mod:`.relink` re-links every source record with the active model (``hub mpi relink``).
"""

from hub.mpi.loading.bulk import BulkLoadError, CsvCheck, Issue, LoadReport, inspect_csv, load_csv
from hub.mpi.loading.relink import RelinkSummary, relink

__all__ = [
    "BulkLoadError", "CsvCheck", "Issue", "LoadReport", "RelinkSummary", "inspect_csv",
    "load_csv", "relink",
]  # fmt: skip
