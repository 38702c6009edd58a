"""The verdicts: each claim of the paper that a chapter measures, judged by a short, tested rule."""
