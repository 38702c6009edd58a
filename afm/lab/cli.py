"""The command line: regenerate the book's figures without a notebook.

    afm list                       every figure and its status in the result cache
    afm run 1b                     compute Fig. 1b (book profile), write its image and results
    afm run 1b --profile smoke --seeds 1 --jobs 2
    afm run all --profile paper --scheduler tcp://scheduler:8786
    afm run 2a --format svg --out figures/

Every expected failure (missing data, an unwritable folder, a bad option or
AFM_* setting, an unreachable scheduler) ends with one line `afm: error: ...`
on stderr and a non-zero exit status (2: a bad argument or setting; 1: data,
files, network).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from afm import env
from afm.data import CorruptDataError
from afm.lab import figures
from afm.lab.cache import results_dir
from afm.lab.paths import cache_dir, check_writable
from afm.lab.profiles import DEFAULT_PROFILE, PROFILES, check_profile
from afm.lab.sweep import check_jobs, default_jobs

FORMATS = ("png", "svg", "pdf")


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
                       help="where to write fig-<id>.<format> and fig-<id>.json "
                            "(default: _build/figures/<profile>)")
    p_run.add_argument("--format", choices=FORMATS, default="png",
                       help="the image format: png (default), svg or pdf")
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


def _check_environment() -> None:
    """Parse every AFM_* setting now, so that a typo fails before any work starts."""
    env.offline(), env.recompute(), env.progress()
    from afm.device import default_device

    _profile(None), default_jobs(), default_device()


def _check_before_computing(args, ids: list[str], profile: str, out: Path) -> None:
    """Bad options and folders that cannot be written fail now, not after hours of compute."""
    if args.seeds is not None and args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
    check_jobs(args.jobs, "--jobs")
    if args.scheduler is not None and "://" not in args.scheduler:
        raise ValueError(f"--scheduler must be an address like tcp://10.0.0.5:8786, "
                         f"got {args.scheduler!r}")
    check_writable(out, "the --out folder")
    seeds = None if args.seeds is None else list(range(args.seeds))
    if any(figures.missing_seeds(i, profile, seeds) for i in ids):  # there is work to save
        check_writable(results_dir(create=False),
                       f"the result cache (AFM_CACHE_DIR={cache_dir(create=False)})")


def cmd_run(args) -> int:
    profile = _profile(args.profile)
    ids = list(figures.FIGURES) if args.figure == "all" else [figures.get(args.figure).id]
    out = args.out or Path("_build") / "figures" / profile
    _check_before_computing(args, ids, profile, out)
    for fig_id in ids:
        start = time.perf_counter()
        seeds = None if args.seeds is None else list(range(args.seeds))
        res = figures.results(fig_id, profile, seeds=seeds, jobs=args.jobs,
                              scheduler=args.scheduler)
        paths = figures.write(fig_id, profile, out, res, fmt=args.format)
        print(f"Fig. {fig_id}: {', '.join(str(p) for p in paths)} "
              f"({time.perf_counter() - start:.1f} s)")
    return 0


def _message(err: BaseException) -> str:
    """One line for the user: an ``OSError`` names its file once, other errors their text."""
    if isinstance(err, OSError) and err.strerror:
        where = str(err.filename) if err.filename else ""
        return err.strerror if not where or where in err.strerror else f"{err.strerror}: {where}"
    return str(err) or type(err).__name__


def main(argv: list[str] | None = None) -> int:
    """Run ``afm`` with ``argv``; every expected failure exits with ``afm: error: ...``.

    Exit status 2: a bad argument or AFM_* setting (``ValueError``); 1: data, files or the
    network (``OSError``, e.g. a missing dataset or an unwritable folder, or a missing package).
    """
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _check_environment()
        status = {"list": cmd_list, "run": cmd_run}[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return status
    except BrokenPipeError:  # the reader went away (e.g. `afm list | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CorruptDataError as err:  # a data file failed its checksum (a ValueError)
        parser.exit(1, f"afm: error: {_message(err)}\n")
    except ValueError as err:  # unknown figure or profile, bad option values or settings
        parser.exit(2, f"afm: error: {_message(err)}\n")
    except (OSError, ImportError) as err:  # data, files, the scheduler, an optional package
        parser.exit(1, f"afm: error: {_message(err)}\n")
    except KeyboardInterrupt:
        parser.exit(130, "afm: interrupted (results already computed are kept in the cache)\n")


if __name__ == "__main__":
    sys.exit(main())
