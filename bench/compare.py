"""The loop every benchmark shares: floor and profile interleaved, medians, the ratio."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path


def compare(label: str, floor: Callable[[], float], profile: Callable[[], float], runs: int,
            json_path: Path | None) -> float:
    floors, profiles = [], []
    for i in range(runs):
        # Interleaved, so drift on a shared machine hits both sides alike.
        floors.append(floor())
        profiles.append(profile())
        print(f"run {i + 1}: floor {floors[-1]:.2f} s, profile {profiles[-1]:.2f} s", flush=True)
    low, whole = statistics.median(floors), statistics.median(profiles)
    print(f"{label}: floor median {low:.2f} s, profile median {whole:.2f} s, ratio {whole / low:.2f}x ({runs} runs)")
    if json_path is not None:
        json_path.write_text(json.dumps({"label": label, "floors": floors, "profiles": profiles,
                                         "floor_median": low, "profile_median": whole, "ratio": whole / low},
                                        indent=2))
    return whole / low
