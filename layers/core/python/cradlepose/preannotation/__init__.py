"""The batch pipeline: starting it, its steps, chunk results, waits for people, stopped tasks."""
