"""Use cases: the thin layer that ties the domain to the ports."""
