"""Batches and their images: presigned uploads, registration of each upload, reading images."""
