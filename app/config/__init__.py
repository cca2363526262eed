"""The first stage: the configuration read, validated once and resolved into check specs."""
