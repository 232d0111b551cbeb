"""A reference FastAPI service guarded by PolicyGate: copy it and adapt the CHANGE parts."""
