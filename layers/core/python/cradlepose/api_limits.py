"""What the cloud's API accepts, shared by the infra that enforces it and the clients that fit it.

The WAF in front of API Gateway refuses a request body over `MAX_REQUEST_BODY_BYTES`
(infra/constructs/api.py: a size rule, instead of the managed common rule set's 8 KB one, with
the body inspection limit raised to the same 64 KB, the most WAF inspects for API Gateway). The CLI
splits what it sends so that no request body goes over it (cradle_workstation.cli.uploader).
"""

from __future__ import annotations

MAX_REQUEST_BODY_BYTES = 64 * 1024
# Upload forms one request may ask for (a batch's creation or more uploads).
MAX_FORMS_PER_REQUEST = 1000
