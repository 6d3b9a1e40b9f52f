"""Plots are optional: matplotlib (the ``examples`` extra) is imported only when a plot is asked for."""


def pyplot_or_none(log, missing):
    """matplotlib's pyplot on the file-only Agg backend, or None after logging ``missing``
    (what is skipped, e.g. "train-charlm: ... no loss.png") when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log(f"{missing} (pip install matplotlib)")
        return None
    return plt
