"""The `smconform` command: tools that work on a run's outputs, with no pytest session."""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = ("usage: smconform verify DIR              check a certification bundle offline\n"
         "       smconform compare REPORT REPORT...  which requirement changed verdict between runs")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    if args[0] == "verify":
        from .verify import main as verify_main

        return verify_main(args[1:])
    if args[0] == "compare":
        from .compare_cli import main as compare_main

        return compare_main(args[1:])
    print(f"ERROR: smconform: unknown command {args[0]!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
