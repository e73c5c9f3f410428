"""The master patient index: which facility records are one person.

Rooms, by what you are doing (each sub-package's ``__init__`` is its public interface; import
from there, not from the modules behind it):

- :mod:`hub.mpi.matching` - pure matching: features, names, addresses, resident IDs, the
  comparison vector, blocking, household ceilings, the Fellegi-Sunter model, batch linkage.
  *Add a matching feature* here (``features.py``, then a comparison in ``compare.py``).
- :mod:`hub.mpi.training` - fitting the model (EM, u sampling) and which model is active.
- :mod:`hub.mpi.registration` - linking records as they arrive: one at a time (online), in
  batches, and the write hook that feeds the index from every Patient write.
- :mod:`hub.mpi.lookup` - reading the index: ``$match``, PDQm/PIXm, same-person queries.
- :mod:`hub.mpi.stewardship` - the review queue and manual link changes (merge, split, undo).
- :mod:`hub.mpi.loading` - bulk loads of a facility's patient list, and re-linking in batch.
- :mod:`hub.mpi.models` (ORM tables), :mod:`hub.mpi.store` (persistence helpers),
  :mod:`hub.mpi.errors`, :mod:`hub.mpi.events` (what the index announces),
  :mod:`hub.mpi.operations` (the ``hub mpi`` operator tasks).

Nothing is imported here: the pure HL7 mappings import :mod:`hub.mpi.matching` and must not load
the ORM or FastAPI through this package's ``__init__``, and the store imports the index's
write hook, so an eager facade would close import circles.
"""

__all__ = [
    "errors", "events", "loading", "lookup", "matching", "models", "operations", "registration",
    "stewardship", "store", "training",
]  # fmt: skip
