"""The fault and abuse suite: transport faults, hostile input, crash and resume, secrets."""
