"""The stacks of the CDK app: one per stage, built from the same constructs."""
