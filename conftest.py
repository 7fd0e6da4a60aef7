"""Repository root: keep pytest away from the fixture builder and the benchmarks."""

collect_ignore = ["fixtures", "bench"]
