"""Pure SageMaker semantics: no I/O, no pytest, no docker."""
