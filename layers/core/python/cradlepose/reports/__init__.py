"""Staged analysis reports and the reference notes they cite."""
