"""Plots for the report, rendered with matplotlib's Agg backend to embedded PNG data URIs.

Axis labels and titles use each space's label, so random-weight spaces read
"<name> (untrained)" inside the figures too. Each space keeps its colour and marker
(`palette.space_styles`) in every figure; terms differ by line style; tick labels and
annotations use the report's number format (`numbers.num`).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import ticker  # noqa: E402
from PIL import Image  # noqa: E402

from counterfactual.report.numbers import num, tick  # noqa: E402
from counterfactual.report.palette import LINE_STYLES, TERM_LABELS, Style  # noqa: E402
from counterfactual.run.reader import Space  # noqa: E402

DPI = 100
UNTRAINED_INK = "#92400e"
_plain = ticker.FuncFormatter(lambda v, _: tick(v))


def data_uri(fig: plt.Figure) -> str:
    """The figure as a base64 PNG data URI (the figure is closed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(_palette_png(buf.getvalue())).decode("ascii")


def _palette_png(png: bytes) -> bytes:
    """The PNG re-encoded with an adaptive 256-colour palette (plots have few colours; this
    makes them 3-4x smaller with no visible change)."""
    img = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        out, format="PNG", optimize=True
    )
    return out.getvalue()


def panel_grid(n: int, max_cols: int, panel_size: tuple[float, float]) -> tuple[Any, np.ndarray]:
    """A figure with n panels in rows of at most max_cols; the unused trailing axes are hidden."""
    cols = min(n, max_cols)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(panel_size[0] * cols, panel_size[1] * rows), squeeze=False
    )
    flat = axes.ravel()
    for extra in flat[n:]:
        extra.set_visible(False)
    return fig, flat


def _change(values: pd.Series | np.ndarray, offset: float) -> np.ndarray:
    return np.asarray(values, dtype=np.float64) - offset


def _fit_curve(fits: pd.DataFrame | None, space: str, grid: np.ndarray) -> np.ndarray | None:
    if fits is None or fits.empty:
        return None
    row = fits[fits["space"] == space]
    if row.empty or not np.isfinite(row[["b0", "b1", "b2"]].to_numpy(np.float64)).all():
        return None
    b0, b1, b2 = (float(row[c].iloc[0]) for c in ("b0", "b1", "b2"))
    return b0 + b1 * grid + b2 * grid**2


def dose_figure(
    curves: pd.DataFrame,
    spaces: Sequence[Space],
    styles: dict[str, Style],
    ci_level: float,
    fits: pd.DataFrame | None = None,
) -> str:
    """One panel per space on a linear scale of the change from Δ = 0: mean FD over draws
    (solid, with its CI band), the quadratic fit (dash-dot), the mean term (dashed) and the
    trace term (dotted), each minus its own value at Δ = 0, so a change of a few units on an
    FD of 60 stays visible. A last panel overlays every space's FD(Δ) / FD(0) with bands."""
    fig, flat = panel_grid(len(spaces) + 1, 3, (4.3, 3.1))
    grid = np.linspace(0.0, 1.0, 101)
    for i, sp in enumerate(spaces):
        ax, st = flat[i], styles[sp.name]
        g = curves[curves["space"] == sp.name].sort_values("delta")
        if g.empty:
            ax.set_visible(False)
            continue
        d = g["delta"].to_numpy(np.float64)
        fd0 = float(g["fd_mean"].iloc[0])
        ax.fill_between(
            d,
            _change(g["fd_ci_low"], fd0),
            _change(g["fd_ci_high"], fd0),
            color=st.color,
            alpha=0.2,
            lw=0,
            label=f"{ci_level:.0%} CI of mean FD",
        )
        ax.plot(
            d,
            _change(g["fd_mean"], fd0),
            color=st.color,
            lw=2,
            ls=LINE_STYLES["fd"],
            marker=st.marker,
            ms=3.5,
            label=TERM_LABELS["fd"],
        )
        fitted = _fit_curve(fits, sp.name, grid)
        if fitted is not None:
            ax.plot(
                grid,
                fitted - fd0,
                color="black",
                lw=1.1,
                ls=LINE_STYLES["fit"],
                label=TERM_LABELS["fit"],
            )
        for term in ("mean_term", "trace_term"):
            col = f"{term}_mean"
            ax.plot(
                d,
                _change(g[col], float(g[col].iloc[0])),
                color=st.color,
                lw=1.2,
                ls=LINE_STYLES[term],
                alpha=0.9,
                label=TERM_LABELS[term],
            )
        ax.axhline(0.0, color="#9ca3af", lw=0.8)
        ax.set_title(
            f"{sp.label}: FD(0) = {num(fd0)}",
            fontsize=9.5,
            color=UNTRAINED_INK if not sp.trained else "black",
        )
        ax.set_xlabel("prevalence gap Δ")
        ax.set_ylabel("change from Δ = 0")
        ax.yaxis.set_major_formatter(_plain)
        ax.grid(True, alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7, loc="best")
    ax = flat[len(spaces)]
    for sp in spaces:
        g = curves[curves["space"] == sp.name].sort_values("delta")
        base = float(g["fd_mean"].iloc[0]) if len(g) else 0.0
        if base <= 0:
            continue
        st = styles[sp.name]
        d = g["delta"].to_numpy(np.float64)
        ax.fill_between(
            d, g["fd_ci_low"] / base, g["fd_ci_high"] / base, color=st.color, alpha=0.15, lw=0
        )
        ax.plot(
            d, g["fd_mean"] / base, color=st.color, lw=1.8, marker=st.marker, ms=3.5, label=sp.label
        )
    ax.axhline(1.0, color="#9ca3af", lw=0.8)
    ax.yaxis.set_major_formatter(_plain)
    ax.set_title("all spaces: FD(Δ) / FD(0)", fontsize=9.5)
    ax.set_xlabel("prevalence gap Δ")
    ax.set_ylabel("ratio to Δ = 0")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return data_uri(fig)


def heatmap(
    matrix: pd.DataFrame,
    title: str,
    *,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    col_labels: Sequence[str] | None = None,
    row_labels: Sequence[str] | None = None,
    cbar_label: str = "",
) -> str:
    """An annotated heatmap of a matrix (NaN cells blank; labels in the report's notation)."""
    values = matrix.to_numpy(dtype=np.float64)
    rows, cols = values.shape
    fig, ax = plt.subplots(figsize=(max(3.6, 0.95 * cols + 2.0), max(2.2, 0.5 * rows + 1.5)))
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(
        range(cols), labels=list(col_labels or matrix.columns), rotation=30, ha="right", fontsize=9
    )
    ax.set_yticks(range(rows), labels=list(row_labels or matrix.index), fontsize=9)
    cm = im.get_cmap()
    for r in range(rows):
        for c in range(cols):
            v = values[r, c]
            if np.isfinite(v):
                red, green, blue, _ = cm(im.norm(v))
                light = 0.299 * red + 0.587 * green + 0.114 * blue > 0.5
                ax.text(
                    c,
                    r,
                    num(v),
                    ha="center",
                    va="center",
                    fontsize=9,
                    color="black" if light else "white",
                )
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    cb.ax.yaxis.set_major_formatter(_plain)
    if cbar_label:
        cb.set_label(cbar_label, fontsize=9, rotation=0 if len(cbar_label) < 3 else 90, labelpad=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return data_uri(fig)


def rank_ci_figure(
    metrics: pd.DataFrame,
    metric: str,
    spaces: Sequence[Space],
    styles: dict[str, Style],
    generators: Sequence[str],
    ylabel: str,
) -> str:
    """One panel per space (in the space's colour and marker): each generator's value with
    its CI."""
    fig, flat = panel_grid(len(spaces), 4, (3.4, 2.9))
    for i, sp in enumerate(spaces):
        ax, st = flat[i], styles[sp.name]
        g = metrics[metrics["space"] == sp.name].set_index("generator").reindex(list(generators))
        x = np.arange(len(generators))
        y = g[metric].to_numpy(np.float64)
        lo = y - g[f"{metric}_ci_low"].to_numpy(np.float64)
        hi = g[f"{metric}_ci_high"].to_numpy(np.float64) - y
        for k in range(len(generators)):
            ax.errorbar(
                x[k],
                y[k],
                yerr=[[max(lo[k], 0)], [max(hi[k], 0)]],
                fmt=st.marker,
                color=st.color,
                capsize=4,
                ms=6,
            )
        ax.set_xticks(x, labels=list(generators), rotation=25, ha="right", fontsize=8)
        ax.set_title(sp.label, fontsize=10, color=UNTRAINED_INK if not sp.trained else "black")
        ax.set_ylabel(ylabel, fontsize=9)
        ax.yaxis.set_major_formatter(_plain)
        ax.grid(True, axis="y", alpha=0.3)
        ax.margins(x=0.2)
    fig.tight_layout()
    return data_uri(fig)


def strength_figure(
    table: pd.DataFrame, spaces: Sequence[Space], styles: dict[str, Style], ci_level: float
) -> str:
    """The dose-response over strength: one row of panels per distortion family, one panel per
    space (its own FD units, its colour and marker): the sensitivity at each strength with its
    interval (error bars), joined by a line; 0 marked."""
    families = list(dict.fromkeys(table["family"]))
    fig, flat = panel_grid(len(families) * len(spaces), len(spaces), (3.4, 2.6))
    for f, family in enumerate(families):
        for s, sp in enumerate(spaces):
            ax, st = flat[f * len(spaces) + s], styles[sp.name]
            g = table[(table["family"] == family) & (table["space"] == sp.name)]
            g = g.sort_values("strength")
            if g.empty:
                ax.set_visible(False)
                continue
            x = g["strength"].to_numpy(np.float64)
            y = g["sensitivity"].to_numpy(np.float64)
            lo = np.clip(y - g["sensitivity_ci_low"].to_numpy(np.float64), 0.0, None)
            hi = np.clip(g["sensitivity_ci_high"].to_numpy(np.float64) - y, 0.0, None)
            ax.errorbar(
                x,
                y,
                yerr=[np.nan_to_num(lo), np.nan_to_num(hi)],
                fmt=f"-{st.marker}",
                color=st.color,
                capsize=3,
                ms=5,
                lw=1.5,
                label=f"S, {ci_level:.0%} CI",
            )
            ax.axhline(0.0, color="#9ca3af", lw=0.8)
            ax.set_xticks(x, labels=[tick(v) for v in x], fontsize=8)
            ax.set_title(
                f"{family} · {sp.label}",
                fontsize=9.5,
                color=UNTRAINED_INK if not sp.trained else "black",
            )
            ax.set_xlabel("strength", fontsize=8)
            ax.set_ylabel("sensitivity S", fontsize=8)
            ax.yaxis.set_major_formatter(_plain)
            ax.grid(True, alpha=0.3)
            ax.margins(x=0.12)
    fig.tight_layout()
    return data_uri(fig)
