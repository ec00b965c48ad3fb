"""Assignment, annotation, verification, gold checks, overdue work, and each person's figures."""
