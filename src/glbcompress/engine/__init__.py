"""The compression engine: files in, GLB and report out. Imports nothing from the service."""
