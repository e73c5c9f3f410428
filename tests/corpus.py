"""Where the team's shared corpus is (``../shared`` next to the checkout, read in place).

A clone elsewhere (CI's scratch copy) finds it through ``HUB_SHARED_DIR`` or at /work/shared."""

from __future__ import annotations

import os
from pathlib import Path

_CANDIDATES = [
    Path(os.environ["HUB_SHARED_DIR"]) if os.environ.get("HUB_SHARED_DIR") else None,
    Path(__file__).resolve().parents[2] / "shared",
    Path("/work/shared"),
]
SHARED = next((p for p in _CANDIDATES if p is not None and p.is_dir()), Path("/work/shared"))
HL7_CORPUS = SHARED / "corpus" / "hl7v2"
