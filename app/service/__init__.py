"""kestrel serve: many cameras in one process around one shared, batching detector."""
