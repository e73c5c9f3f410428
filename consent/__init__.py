"""Patient consent (PIPL): policy decision point and enforcement in the store."""
