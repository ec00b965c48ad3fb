"""boto3 behind small interfaces: storage (S3), workflow (Step Functions), identity (Cognito)."""
