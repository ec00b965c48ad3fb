"""Keypoint schemas and their infant-calibrated OKS sigmas."""
