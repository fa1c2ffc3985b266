"""Annotation streams and events."""
