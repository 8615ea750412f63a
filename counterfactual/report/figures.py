"""Plots for the report, rendered with matplotlib's Agg backend to embedded PNG data URIs.

Axis labels and titles use each space's label, so random-weight spaces read
"<name> (untrained)" inside the figures too.
"""
from __future__ import annotations

import base64
import io
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from counterfactual.run.reader import Space  # noqa: E402

DPI = 110
COLORS = plt.get_cmap("tab10").colors


def data_uri(fig: plt.Figure) -> str:
    """The figure as a base64 PNG data URI (the figure is closed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _positive(values: pd.Series | np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return np.where(v > 0, v, np.nan)


def panel_grid(n: int, max_cols: int, panel_size: tuple[float, float]) -> tuple[Any, np.ndarray]:
    """A figure with n panels in rows of at most max_cols; the unused trailing axes are hidden."""
    cols = min(n, max_cols)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(panel_size[0] * cols, panel_size[1] * rows),
                             squeeze=False)
    flat = axes.ravel()
    for extra in flat[n:]:
        extra.set_visible(False)
    return fig, flat


def dose_figure(curves: pd.DataFrame, spaces: Sequence[Space], ci_level: float) -> str:
    """One panel per space: mean FD over draws vs delta (log y) with its CI band and the mean
    and trace terms; a last panel overlays every space normalised by its FD at delta = 0."""
    fig, flat = panel_grid(len(spaces) + 1, 3, (4.3, 3.1))
    for i, sp in enumerate(spaces):
        ax = flat[i]
        g = curves[curves["space"] == sp.name].sort_values("delta")
        if g.empty:
            ax.set_visible(False)
            continue
        d = g["delta"].to_numpy()
        ax.fill_between(d, _positive(g["fd_ci_low"]), _positive(g["fd_ci_high"]),
                        color=COLORS[0], alpha=0.25, lw=0, label=f"{ci_level:.0%} CI of mean FD")
        ax.plot(d, _positive(g["fd_mean"]), color=COLORS[0], lw=2, marker="o", ms=3, label="FD")
        ax.plot(d, _positive(g["mean_term_mean"]), color=COLORS[1], lw=1.3, ls="--",
                label="mean term")
        ax.plot(d, _positive(g["trace_term_mean"]), color=COLORS[2], lw=1.3, ls=":",
                label="trace term")
        ax.set_yscale("log")
        ax.set_title(sp.label, fontsize=10, color="#92400e" if not sp.trained else "black")
        ax.set_xlabel("prevalence gap Δ")
        ax.set_ylabel("FD (log)")
        ax.grid(True, which="major", alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7, loc="best")
    ax = flat[len(spaces)]
    for j, sp in enumerate(spaces):
        g = curves[curves["space"] == sp.name].sort_values("delta")
        if g.empty:
            continue
        base = g["fd_mean"].iloc[0]
        if base > 0:
            ax.plot(g["delta"], _positive(g["fd_mean"] / base), color=COLORS[j % 10], lw=1.8,
                    marker="o", ms=2.5, label=sp.label)
    ax.set_yscale("log")
    plain = ticker.FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    lo, hi = ax.get_ylim()
    if lo > 0 and hi / lo < 10:     # under a decade: label the minor ticks too, in plain numbers
        ax.yaxis.set_minor_formatter(plain)
        ax.tick_params(axis="y", which="minor", labelsize=7)
    ax.set_title("all spaces: FD(Δ) / FD(0)", fontsize=10)
    ax.set_xlabel("prevalence gap Δ")
    ax.set_ylabel("ratio to Δ = 0 (log)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return data_uri(fig)


def heatmap(matrix: pd.DataFrame, title: str, *, cmap: str = "viridis", vmin: float | None = None,
            vmax: float | None = None, fmt: str = "{:.2f}", col_labels: Sequence[str] | None = None,
            row_labels: Sequence[str] | None = None, cbar_label: str = "") -> str:
    """An annotated heatmap of a matrix (NaN cells blank)."""
    values = matrix.to_numpy(dtype=np.float64)
    rows, cols = values.shape
    fig, ax = plt.subplots(figsize=(max(3.6, 0.95 * cols + 2.0), max(2.2, 0.5 * rows + 1.5)))
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(cols), labels=list(col_labels or matrix.columns), rotation=30, ha="right",
                  fontsize=9)
    ax.set_yticks(range(rows), labels=list(row_labels or matrix.index), fontsize=9)
    lo, hi = im.get_clim()
    for r in range(rows):
        for c in range(cols):
            v = values[r, c]
            if np.isfinite(v):
                dark = (v - lo) / (hi - lo + 1e-12) < 0.5 if cmap in ("viridis", "magma") else \
                    abs(v - (lo + hi) / 2) > 0.3 * (hi - lo)
                ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=9,
                        color="white" if dark else "black")
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if cbar_label:
        cb.set_label(cbar_label, fontsize=9, rotation=0 if len(cbar_label) < 3 else 90,
                     labelpad=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return data_uri(fig)


def rank_ci_figure(metrics: pd.DataFrame, metric: str, spaces: Sequence[Space],
                   generators: Sequence[str], ylabel: str) -> str:
    """One panel per space: each generator's value with its CI (best first in rank order)."""
    fig, flat = panel_grid(len(spaces), 4, (3.4, 2.9))
    for i, sp in enumerate(spaces):
        ax = flat[i]
        g = metrics[metrics["space"] == sp.name].set_index("generator").reindex(list(generators))
        x = np.arange(len(generators))
        y = g[metric].to_numpy(np.float64)
        lo = y - g[f"{metric}_ci_low"].to_numpy(np.float64)
        hi = g[f"{metric}_ci_high"].to_numpy(np.float64) - y
        for k in range(len(generators)):
            ax.errorbar(x[k], y[k], yerr=[[max(lo[k], 0)], [max(hi[k], 0)]], fmt="o",
                        color=COLORS[k % 10], capsize=4, ms=6)
        ax.set_xticks(x, labels=list(generators), rotation=25, ha="right", fontsize=8)
        ax.set_title(sp.label, fontsize=10, color="#92400e" if not sp.trained else "black")
        ax.set_ylabel(ylabel, fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
        ax.margins(x=0.2)
    fig.tight_layout()
    return data_uri(fig)
