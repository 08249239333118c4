"""PNG plots for docs/img/ (matplotlib, installed by `make bench`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .units import human


def _size_axis(ax: Any, sizes: list[float]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes[::2])
    ax.set_xticklabels([human(s) for s in sizes[::2]])
    ax.minorticks_off()


def _finish(fig: Any, ax: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plots(plot_data: dict[str, dict[str, list[float]]], img_dir: Path) -> list[str]:
    """The plots' paths relative to the doc."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    data = plot_data["getset"]
    img_dir.mkdir(parents=True, exist_ok=True)
    sizes = data["sizes"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = {
        "GET": ("tab:blue", "--", "o"),
        "NP.GET": ("tab:blue", "-", "s"),
        "SET": ("tab:orange", "--", "o"),
        "NP.SET": ("tab:orange", "-", "s"),
    }
    for name, (color, ls, marker) in styles.items():
        ax.plot(sizes, data[name], ls, color=color, marker=marker, label=name, markersize=4)
    _size_axis(ax, sizes)
    ax.set_yscale("log")
    ax.set_xlabel("array data size (float32)")
    ax.set_ylabel("throughput (MB/s of .npy, single client)")
    ax.set_title("NP.GET / NP.SET vs GET / SET of the same .npy bytes")
    _finish(fig, ax, img_dir / "throughput.png")

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(sizes, data["mem_np"], "-s", color="tab:blue", label="array: MEMORY USAGE", markersize=4)
    ax.plot(sizes, data["mem_str"], "-o", color="tab:orange", label="string of the .npy: MEMORY USAGE", markersize=4)
    ax.plot(sizes, data["alloc_np"], ":s", color="tab:blue", label="array: allocated (used_memory Δ)", markersize=3)
    ax.plot(sizes, data["alloc_str"], ":o", color="tab:orange", label="string: allocated (used_memory Δ)", markersize=3)
    ax.axhline(1.01, color="grey", lw=0.8, ls=":", label="1.01× nbytes")
    _size_axis(ax, sizes)
    ax.set_yscale("log")
    ax.set_yticks([1, 1.25, 1.5, 2, 3, 4, 6, 8])
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}×"))
    ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel("array data size (nbytes)")
    ax.set_ylabel("bytes per key ÷ nbytes")
    ax.set_title("Memory per key vs array size")
    _finish(fig, ax, img_dir / "memory.png")
    return ["img/throughput.png", "img/memory.png"]
