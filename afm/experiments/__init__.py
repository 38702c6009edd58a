"""One module per chapter; each declares its figures (``FIGURES``) as computations
``compute(profile, seed) -> results`` and drawings ``plot({seed: results})``.

Every training run goes through :mod:`afm.lab.runs` (:class:`~afm.lab.runs.Run`,
:func:`~afm.lab.runs.fit`), and every figure through :mod:`afm.lab.figures`, so a
figure can be recomputed outside a notebook and the chapters and ``afm run`` share
the result cache (:mod:`afm.lab.cache`).
"""
