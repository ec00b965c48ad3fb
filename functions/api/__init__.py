"""The API Lambda: one Powertools REST resolver, one router per resource."""
