"""Cradle: medical-grade infant keypoint datasets."""

__version__ = "0.1.0"
