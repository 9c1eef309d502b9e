"""The decision core: pure decisions, no network, no store, no front end."""
