"""What runs on a person's machine, never in a Lambda: the `cradle` CLI, the local stack, the demo.

Installed by `pip install -e .` (the developer and operator install); the Lambda layer
(`layers/core`) holds only `cradlepose`, the runtime code.
"""
