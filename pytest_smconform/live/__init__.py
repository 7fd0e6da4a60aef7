"""Live mode: templates and workspaces sent to a real Kubernetes API server, verdicts compared with the model."""
