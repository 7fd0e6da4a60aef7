"""The Docker engine: plans, containers, observations and cleanup. The only module that talks to it."""
