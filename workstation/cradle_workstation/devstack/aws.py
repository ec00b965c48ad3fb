"""moto's server on 127.0.0.1: the local stack's S3, Step Functions, Lambda, SQS, EventBridge, IAM.

Step Functions runs definitions with moto's ASL interpreter, switched on through moto's config
API (`POST /moto-api/config {"stepfunctions": {"execute_state_machine": true}}`, the server's
equivalent of `mock_aws(config=...)`). The interpreter calls task Lambdas back through this same
server at `localhost:$MOTO_PORT`, so MOTO_PORT must name this server's port (the stack sets it).
moto's state lives in this process's memory, shared by every server in it: `start` resets it,
`stop` puts the config back as it found it.
"""

from __future__ import annotations

import copy
import json
import logging
import urllib.request
from typing import Any

import boto3
from botocore.config import Config
from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer

HOST = "127.0.0.1"
QUIET_LOGGERS = {"werkzeug": logging.WARNING, "moto": logging.CRITICAL}
# moto accepts any credentials; boto3 only needs some.
CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


class LocalAws:
    def __init__(self, port: int = 0, region: str = "us-east-1") -> None:
        self.region = region
        self._port = port
        self._server: ThreadedMotoServer | None = None
        self._previous_config: dict[str, Any] = {}
        self._log_levels: dict[str, int] = {}
        self.endpoint = ""

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    def start(self) -> LocalAws:
        # One line per request from werkzeug is noise next to the stack's own output, and the ASL
        # interpreter logs every task error it hands to a Retry or Catch with its whole parse tree:
        # a failing step is logged by moto_lambda and recorded on its pipeline run instead.
        self._log_levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
        for name, level in QUIET_LOGGERS.items():
            logging.getLogger(name).setLevel(level)
        self._previous_config = {"stepfunctions": copy.deepcopy(default_user_config.get("stepfunctions", {}))}
        self._server = ThreadedMotoServer(ip_address=HOST, port=self._port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self._post("/moto-api/reset", None)
        self._post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        try:
            self._post("/moto-api/config", self._previous_config)
            self._post("/moto-api/reset", None)
        finally:
            self._server.stop()
            self._server = None
            for name, level in self._log_levels.items():
                logging.getLogger(name).setLevel(level)

    def client(self, service: str) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            config=Config(retries={"mode": "standard", "max_attempts": 3}),
            **CREDENTIALS,
        )

    def _post(self, path: str, body: dict[str, Any] | None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        request = urllib.request.Request(  # noqa: S310 - our own server on 127.0.0.1
            f"{self.endpoint}{path}", data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()
