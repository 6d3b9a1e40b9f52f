"""Plots are optional: matplotlib (the ``examples`` extra) is imported only when a plot is asked for."""
import sys


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


def save_and_show(figure, path, dpi=110):
    """Write ``figure`` to ``path``; inside a Jupyter notebook also show it below the cell, else
    close it (a script opens no window). The tutorials and the commands draw their pictures through this."""
    import matplotlib.pyplot as plt
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
    if "ipykernel" in sys.modules:
        plt.show()
    else:
        plt.close(figure)
