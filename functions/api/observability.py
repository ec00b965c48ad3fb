"""Logger, tracer and metrics: module-level singletons, configured by POWERTOOLS_* variables."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="cradle-api")
tracer = Tracer(service="cradle-api")
metrics = Metrics(namespace="Cradle", service="cradle-api")
