"""`em-gen eval`: probes -> targets (a local checkpoint or an endpoint) -> metrics -> report."""
