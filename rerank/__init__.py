"""Second-stage reordering of the first stage's top candidates."""
