"""One function per figure of the paper: ``compute(profile, seed) -> results``.

Each chapter calls these, so a figure can be recomputed outside a notebook and
every chapter shares the result cache (:mod:`afm.lab.cache`).
"""

from afm.lab.runs import MLPRun, RunResult, mlp_run, select_on_validation

__all__ = ["MLPRun", "RunResult", "mlp_run", "select_on_validation"]
