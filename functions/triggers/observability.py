"""Logger, tracer and metrics of the trigger Lambdas (module-level singletons)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="cradle-triggers")
tracer = Tracer(service="cradle-triggers")
metrics = Metrics(namespace="Cradle", service="cradle-triggers")
