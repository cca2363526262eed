"""The HTTP API: one router per resource, all reading the store through the dependencies in `deps`."""
