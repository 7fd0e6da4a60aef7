"""Spec files: YAML documents that declare profiles, parameters and requirements."""
