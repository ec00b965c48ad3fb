"""Verified images as datasets (splits), the catalogue, collections, exports and imports."""
