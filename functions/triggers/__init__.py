"""Event-driven Lambdas: the S3 upload trigger, the pipeline's task steps, the scheduled jobs."""
