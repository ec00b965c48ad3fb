"""Age-band models of typical poses, anomaly screening, pose embeddings (pgvector)."""
