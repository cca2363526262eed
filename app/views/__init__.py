"""Readers of the store: health+json, the gate's reports, the status page's view model, the metrics."""
