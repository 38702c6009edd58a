"""The command line: regenerate the book's figures without a notebook.

    afm list                       every figure and its status in the result cache
    afm run 1b                     compute Fig. 1b (book profile), write its image and results
    afm run 1b --profile smoke --seeds 1 --jobs 2
    afm run all --profile paper --scheduler tcp://scheduler:8786
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from afm.lab import figures
from afm.lab.profiles import DEFAULT_PROFILE, PROFILES, check_profile


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="afm", description="Regenerate the figures of 'Active Forgetting, the runnable book' "
        "from the command line. Results go to the same cache as the chapters (AFM_CACHE_DIR), so "
        "the book does not recompute what you computed here.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 2)[2])
    sub = parser.add_subparsers(dest="command", required=True, metavar="{list,run}")
    profile_help = (f"compute profile: {', '.join(PROFILES)} (default: AFM_PROFILE, "
                    f"else {DEFAULT_PROFILE})")

    p_list = sub.add_parser("list", help="show every figure and its status in the result cache")
    p_list.add_argument("--profile", help=profile_help)

    p_run = sub.add_parser("run", help="compute a figure, write its image and results file")
    p_run.add_argument("figure", help="a figure id from `afm list` (e.g. 1b), or 'all'")
    p_run.add_argument("--profile", help=profile_help)
    p_run.add_argument("--seeds", type=int, metavar="N",
                       help="use seeds 0..N-1 (default: the profile's seeds for the figure)")
    p_run.add_argument("--jobs", type=int, default=1, metavar="J",
                       help="parallel local processes, one run each (default 1; -1: every core)")
    p_run.add_argument("--scheduler", metavar="ADDRESS",
                       help="a Dask scheduler (tcp://host:8786): run on that cluster instead")
    p_run.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help="where to write fig-<id>.png and fig-<id>.json "
                            "(default: _build/figures/<profile>)")
    return parser


def _profile(arg: str | None) -> str:
    return check_profile(arg or os.environ.get("AFM_PROFILE", "").strip() or DEFAULT_PROFILE)


def cmd_list(args) -> int:
    profile = _profile(args.profile)
    print(f"Figures the book regenerates (profile '{profile}'):")
    print(f"{'figure':8s}{'chapter':24s}{'status':22s}title")
    for spec in figures.FIGURES.values():
        print(f"{spec.id:8s}{spec.chapter:24s}{figures.status(spec.id, profile):22s}{spec.title}")
    return 0


def cmd_run(args) -> int:
    profile = _profile(args.profile)
    if args.seeds is not None and args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
    ids = list(figures.FIGURES) if args.figure == "all" else [figures.get(args.figure).id]
    out = args.out or Path("_build") / "figures" / profile
    for fig_id in ids:
        start = time.perf_counter()
        seeds = None if args.seeds is None else list(range(args.seeds))
        res = figures.results(fig_id, profile, seeds=seeds, jobs=args.jobs,
                              scheduler=args.scheduler)
        paths = figures.write(fig_id, profile, out, res)
        print(f"Fig. {fig_id}: {', '.join(str(p) for p in paths)} "
              f"({time.perf_counter() - start:.1f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return {"list": cmd_list, "run": cmd_run}[args.command](args)
    except ValueError as err:  # unknown figure or profile, bad option values
        parser.exit(2, f"afm: error: {err}\n")


if __name__ == "__main__":
    sys.exit(main())
