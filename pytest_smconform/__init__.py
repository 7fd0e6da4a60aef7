"""pytest-smconform: checks container images against Amazon SageMaker's requirements."""

__version__ = "0.1.0"
