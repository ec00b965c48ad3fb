"""Cradle's AWS deployment: a CDK app (`app.py`), one stack per stage, one construct per concern."""
