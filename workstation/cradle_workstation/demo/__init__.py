"""`cradle demo`: Cradle's main job end to end against the local stack, with no human."""
