"""What chain parties send us: retours, asynchronous errors, (later) their own messages."""
