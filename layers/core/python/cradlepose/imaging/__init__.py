"""Working on image bytes: what type they really are, metadata removal, measurements, thumbnails."""
