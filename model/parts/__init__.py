"""One module per mechanism, in the order the day runs them (see model.psubs)."""
