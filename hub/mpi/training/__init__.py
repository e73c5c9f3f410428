"""Training the match model, and which trained model is active.

:mod:`.em` is the generic recipe (u from random pairs, m and the prior by EM, Splink's);
:mod:`.from_features` applies it to the hub's records with its blocking and domain constraints
(``hub mpi train``); :mod:`.registry` keeps the active model (the newest trained one in the
database, else the packaged ``hub/mpi/data/default_model.json``).
"""

from hub.mpi.training.em import EMResult, estimate_m, estimate_u, term_frequencies, train
from hub.mpi.training.from_features import (
    LOWER_THRESHOLD,
    UPPER_THRESHOLD,
    apply_domain_constraints,
    train_on_features,
)
from hub.mpi.training.registry import activate_model, active_model, packaged_model

__all__ = [
    "LOWER_THRESHOLD", "UPPER_THRESHOLD", "EMResult", "activate_model", "active_model",
    "apply_domain_constraints", "estimate_m", "estimate_u", "packaged_model", "term_frequencies",
    "train", "train_on_features",
]  # fmt: skip
