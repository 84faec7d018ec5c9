"""Report figures drawn with matplotlib from plain arrays (no statistics are computed here).

Every function returns a ``matplotlib.figure.Figure`` built without pyplot
(no global state, Agg canvas); ``render`` turns it into PNG and SVG bytes that
are identical from run to run (no date in the metadata, fixed SVG hash salt).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

PALETTE = ("#1f4e79", "#c0392b", "#27864a", "#8e44ad", "#d68910", "#5d6d7e", "#17a2b8", "#7b241c")
_DPI = 110


def _new(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)  # the Agg canvas explicitly: no pyplot, no GUI backend, works headless
    return fig


def _text_width(text: str, size: float, bold: bool = False) -> float:
    """Width in inches of one line of text in the default font, as the Agg renderer draws it."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    w, _, _ = RendererAgg(1, 1, 72).get_text_width_height_descent(
        text, FontProperties(size=size, weight="bold" if bold else "normal"), ismath=False)
    return w / 72


def render(fig) -> tuple[bytes, bytes]:
    """PNG and SVG bytes of a figure, reproducible byte for byte."""
    import matplotlib as mpl

    with mpl.rc_context({"svg.hashsalt": "cartalysis", "svg.fonttype": "path"}):
        png, svg = io.BytesIO(), io.BytesIO()
        fig.savefig(png, format="png", dpi=_DPI, metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return png.getvalue(), svg.getvalue()


# -- Kaplan–Meier and cumulative incidence ---------------------------------------


@dataclass(frozen=True)
class Curve:
    """One step curve: ``y`` holds from ``time[i]`` until ``time[i+1]``; starts at (0, y0).

    ``censor_time``/``censor_y`` place the censoring ticks; ``at_risk`` are the
    numbers at risk at the figure's ``risk_times`` (subjects with time ≥ t).
    """

    label: str
    time: np.ndarray
    y: np.ndarray
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    censor_time: np.ndarray = field(default_factory=lambda: np.empty(0))
    censor_y: np.ndarray = field(default_factory=lambda: np.empty(0))
    at_risk: Sequence[int] = ()
    y0: float = 1.0
    end: float | None = None  # last follow-up time: the curve stops there (default: the last step)


def _steps(t: np.ndarray, y: np.ndarray, y0: float, xmax: float) -> tuple[np.ndarray, np.ndarray]:
    t, y = np.asarray(t, float), np.asarray(y, float)
    keep = t <= xmax  # the figure ends at the last risk-table time
    t = np.concatenate([[0.0], t[keep], [xmax]])
    y = np.concatenate([[y0], y[keep]])
    y = np.concatenate([y, y[-1:]])
    return t, y


def step_figure(
    curves: Sequence[Curve],
    *,
    xlabel: str,
    ylabel: str,
    risk_times: Sequence[float] = (),
    annotation: str = "",
    ylim: tuple[float, float] = (0.0, 1.0),
    percent: bool = True,
    legend_title: str = "",
):
    """Kaplan–Meier (or cumulative incidence) curves with a 95% CI band, censor marks and an
    aligned number-at-risk table under the x axis (one row per curve, at ``risk_times``).

    The legend (headed by ``legend_title``, e.g. the grouping variable) and ``annotation`` (e.g. the log-rank P)
    sit above the plot area, so they never cover a curve."""
    ngroups = len(curves)
    has_risk = bool(risk_times) and any(len(c.at_risk) for c in curves)
    risk_h = 0.24 * ngroups + 0.3 if has_risk else 0.0
    # legend entries side by side above the plot (about 0.068 in per character at 9 pt plus the line sample)
    legend_w = [0.068 * len(c.label) + 0.55 for c in curves]
    legend_cols = max(1, min(ngroups, int(4.4 // max(legend_w))))
    legend_rows = -(-ngroups // legend_cols) + bool(legend_title) if ngroups > 1 else (1 if annotation else 0)
    top_h = 0.15 + 0.24 * legend_rows
    height = top_h + 4.0 + (risk_h + 0.75 if has_risk else 0.55)
    fig = _new(7.2, height)
    if has_risk:
        gs = fig.add_gridspec(2, 1, height_ratios=[4.0, risk_h], hspace=0.75 / ((4.0 + risk_h) / 2))
        ax = fig.add_subplot(gs[0])
        axr = fig.add_subplot(gs[1], sharex=ax)
    else:
        ax = fig.add_subplot(1, 1, 1)
    xmax = float(max(risk_times)) if risk_times else max(
        [float(np.max(c.time)) if len(c.time) else 1.0 for c in curves] + [1.0]
    )
    for i, c in enumerate(curves):
        col = PALETTE[i % len(PALETTE)]
        stop = min(xmax, c.end) if c.end is not None else xmax
        tt, yy = _steps(c.time, c.y, c.y0, stop)
        ax.step(tt, yy, where="post", color=col, lw=1.6, label=c.label)
        if c.lower is not None and c.upper is not None:
            _, lo = _steps(c.time, c.lower, c.y0, stop)
            _, hi = _steps(c.time, c.upper, c.y0, stop)
            # lighter when bands overlap (several groups), so that every curve stays visible through them
            ax.fill_between(tt, lo, hi, step="post", color=col, alpha=0.15 if ngroups == 1 else 0.09, lw=0)
        if len(c.censor_time):
            keep = np.asarray(c.censor_time, float) <= xmax
            ax.plot(np.asarray(c.censor_time)[keep], np.asarray(c.censor_y)[keep], ls="none", marker="|", ms=7, mew=1.2, color=col)
    ax.set_xlim(0, xmax * 1.02)
    ax.set_ylim(ylim[0], ylim[1] + 0.02)
    if percent:
        ticks = np.linspace(ylim[0], ylim[1], 6)
        ax.set_yticks(ticks, [f"{t * 100:.0f}" for t in ticks])
    ax.set_ylabel(ylabel)
    ax.spines[["top", "right"]].set_visible(False)
    if risk_times:
        ax.set_xticks(list(risk_times))
    # legend and test result sit above the plot area, so that they never cover a curve or its CI band
    if ngroups > 1:
        ax.legend(frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=legend_cols, fontsize=9,
                  borderaxespad=0.2, handlelength=1.6, columnspacing=1.2, title=legend_title or None,
                  title_fontsize=9, alignment="left")
    if annotation:
        ax.text(1.0, 1.01, annotation, transform=ax.transAxes, fontsize=9, ha="right", va="bottom")
    if has_risk:
        ax.set_xlabel("")
        ax.tick_params(labelbottom=True)
        axr.set_xlabel(xlabel)
        axr.set_ylim(-0.5, ngroups - 0.5)
        axr.set_yticks(range(ngroups), [c.label for c in curves][::-1] if ngroups > 1 else [""])
        for i, c in enumerate(curves):
            row = ngroups - 1 - i
            for t, n in zip(risk_times, c.at_risk):
                axr.text(t, row, str(int(n)), ha="center", va="center", fontsize=8.5, color=PALETTE[i % len(PALETTE)])
        for lab, col in zip(axr.get_yticklabels(), PALETTE[:ngroups][::-1]):
            lab.set_color(col)
            lab.set_fontsize(8.5)
        axr.tick_params(axis="x", labelbottom=False, length=0)
        axr.tick_params(axis="y", length=0, pad=18)  # clear of the numbers centred on t = 0
        axr.spines[["top", "right", "left", "bottom"]].set_visible(False)
        from matplotlib.transforms import blended_transform_factory

        # the heading starts at the left edge of the row labels' column, above the first row
        axr.text(0.1 / 7.2, 1.0, "Number at risk", transform=blended_transform_factory(fig.transFigure, axr.transAxes),
                 ha="left", va="bottom", fontsize=9, fontweight="bold")
        axr.set_xlabel(xlabel)
        # the x label belongs to the curve axes; the risk table repeats no axis
        axr.xaxis.label.set_visible(False)
        ax.set_xlabel(xlabel)
    else:
        ax.set_xlabel(xlabel)
    # room on the left for the longest risk-table row label (about 0.075 in per character at 8.5 pt)
    longest = max(len(c.label) for c in curves) if has_risk and ngroups > 1 else 0
    left = max(0.85, 0.075 * longest + 0.45) / 7.2
    fig.subplots_adjust(left=left, right=0.97, top=1 - top_h / height, bottom=(0.1 if has_risk else 0.55) / height)
    return fig


# -- forest plot --------------------------------------------------------------------


@dataclass(frozen=True)
class ForestRow:
    label: str
    estimate: float | None
    lower: float | None
    upper: float | None
    text: str  # the printed estimate, e.g. "85.4 (72.2–93.9)" (from the formatted record)
    heading: bool = False  # a variable's name (bold, no estimate)
    indent: bool = False  # a level listed under its heading


def forest_figure(rows: Sequence[ForestRow], *, xlabel: str, reference: float | None, log: bool,
                  right_title: str, xlim: tuple[float, float] | None = None):
    """Estimates with CIs, one row each (headings in bold, no marker), a dashed reference line and the
    formatted estimate printed to the right. Layout in inches so that row labels and texts never overlap."""
    n = len(rows)
    row_h, top, bottom = 0.27, 0.35, 0.62
    # label column sized to the widest label as drawn, then the plot, then the texts
    left = max(1.4, max(_text_width(("    " if r.indent else "") + r.label, 8.5, r.heading) for r in rows) + 0.3)
    text_w = max(1.8, max([_text_width(r.text, 8.5) for r in rows] + [_text_width(right_title, 8.5, True)]) + 0.2)
    width, height = left + 2.9 + 0.15 + text_w, top + bottom + row_h * n
    fig = _new(width, height)
    ax = fig.add_axes((left / width, bottom / height, 2.9 / width, row_h * n / height))
    ys = np.arange(n)[::-1]
    for y, r in zip(ys, rows):
        if r.estimate is not None and r.lower is not None and r.upper is not None and not r.heading:
            # not clipped: an estimate or bound on the axis limit (a 100% response rate) stays whole
            ax.plot([r.lower, r.upper], [y, y], color="#222", lw=1.2, clip_on=False)
            ax.plot([r.estimate], [y], marker="s", color=PALETTE[0], ms=5.5, clip_on=False)
    ax.set_ylim(-0.5, n - 0.5)
    ax.set_yticks(ys, [("    " if r.indent else "") + r.label for r in rows], fontsize=8.5)
    for lab, r in zip(ax.get_yticklabels(), rows):
        lab.set_horizontalalignment("left")  # a left-aligned label column, as journal forest plots print it
        if r.heading:
            lab.set_fontweight("bold")
    ax.tick_params(axis="y", length=0, pad=(left - 0.12) * 72)
    if log:
        ax.set_xscale("log")
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    if xlim:
        ax.set_xlim(*xlim)
    if reference is not None:
        ax.axvline(reference, ls="--", color="#888", lw=1)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.tick_params(axis="x", labelsize=8.5)
    ax.spines[["top", "right", "left"]].set_visible(False)
    x_text = (left + 2.9 + 0.15) / width
    for y, r in zip(ys, rows):
        fig.text(x_text, (bottom + row_h * (y + 0.5)) / height, r.text, va="center", fontsize=8.5)
    fig.text(x_text, (bottom + row_h * n + 0.05) / height, right_title, va="bottom", fontsize=8.5, fontweight="bold")
    return fig


# -- swimmer plot -------------------------------------------------------------------

SWIM_MARKERS = {
    # kind: (marker, colour, legend label, size in points)
    "response": ("o", "#27864a", "CR/CRi", 7.0),
    "mrd_negative": ("D", "#17a2b8", "MRD negative", 6.0),
    "hsct": ("s", "#8e44ad", "HSCT", 6.5),
    "relapse_cd19_pos": ("^", "#c0392b", "Relapse CD19+", 8.0),
    "relapse_cd19_neg": ("v", "#e67e22", "Relapse CD19−", 8.0),
    "relapse_unknown": ("P", "#7b241c", "Relapse CD19 unknown", 7.5),
    "death": ("X", "#111111", "Death", 7.5),
}
LANE_FILLS = {
    # Lane.status: (fill colour, legend label). "in_remission": studies infusing patients already in remission
    # (plan efficacy.orr = "none"), where response is not an end point and the lanes are not split by it.
    "responder": ("#a9cce3", "Responder (CR/CRi)"),
    "non_responder": ("#d5d8dc", "Non-responder"),
    "in_remission": ("#cfd8dc", "In remission at infusion"),
}


@dataclass(frozen=True)
class Lane:
    label: str
    end: float  # infusion to last contact or death, in months
    ongoing: bool  # alive at last contact: an arrow
    status: str  # a LANE_FILLS key: the lane's colour
    marks: tuple[tuple[str, float], ...]  # (kind, time)


def swimmer_figure(lanes: Sequence[Lane], *, xlabel: str):
    """One lane per infused patient, from infusion to last contact; markers for events; an arrow for
    patients alive at last contact. The legend (outside the plot, on the right) lists only what is drawn."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    n = len(lanes)
    kinds = [k for k in SWIM_MARKERS if any(m == k for lane in lanes for m, _ in lane.marks)]
    statuses = [s for s in LANE_FILLS if any(lane.status == s for lane in lanes)]
    n_legend = len(kinds) + len(statuses) + any(lane.ongoing for lane in lanes)
    # 0.17 in per lane, room for the legend (0.24 in per entry), margins 1.0 in
    h = min(max(0.17 * n, 0.24 * n_legend + 0.2, 2.0) + 1.0, 60.0)
    fig = _new(7.6, h)
    ax = fig.add_axes((0.07, 0.7 / h, 0.63, 1 - 0.85 / h))
    ys = np.arange(n)[::-1]
    xmax = max([lane.end for lane in lanes] + [1.0])
    arrow = 0.035 * xmax
    for y, lane in zip(ys, lanes):
        ax.barh(y, lane.end, height=0.72, color=LANE_FILLS[lane.status][0], lw=0)
        if lane.ongoing:
            ax.annotate("", xy=(lane.end + arrow, y), xytext=(lane.end, y),
                        arrowprops={"arrowstyle": "-|>", "color": "#555", "lw": 0.9, "mutation_scale": 8})
    handles, labels = [], []
    for kind in kinds:
        marker, col, lab, ms = SWIM_MARKERS[kind]
        t, y = zip(*[(t, y) for y, lane in zip(ys, lanes) for k, t in lane.marks if k == kind])
        if kind == "mrd_negative":  # hollow, so that a CR/CRi circle on the same day stays visible
            style = {"mec": col, "mfc": "none", "mew": 1.3}
        else:
            style = {"color": col, "mec": "white", "mew": 0.6}
        (line,) = ax.plot(t, y, ls="none", marker=marker, ms=ms, zorder=3, **style)
        handles.append(line)
        labels.append(lab)
    for status in statuses:
        handles.append(Patch(color=LANE_FILLS[status][0]))
        labels.append(LANE_FILLS[status][1])
    if any(lane.ongoing for lane in lanes):
        handles.append(Line2D([], [], color="#555", marker=">", ms=5, lw=0.9))
        labels.append("Alive at last contact")
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_yticks([])
    ax.set_ylabel("Patients")
    ax.set_xlabel(xlabel)
    ax.set_xlim(0, xmax + 2 * arrow)
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8.5,
              borderaxespad=0.0, labelspacing=0.6)
    return fig


# -- CONSORT flow -------------------------------------------------------------------


@dataclass(frozen=True)
class FlowStep:
    text: str  # main box, e.g. "Enrolled (leukapheresed)\nn = 67"
    exclusion: str = ""  # side box of patients lost before the next step, with reasons


def consort_figure(steps: Sequence[FlowStep]):
    """A vertical CONSORT-style flow: main boxes in a column, exclusion boxes to the right between steps."""
    n = len(steps)
    heights = [s.text.count("\n") + 1 for s in steps]
    ex_heights = [s.exclusion.count("\n") + 1 if s.exclusion else 0 for s in steps]
    unit = 0.19  # inches per text line
    gaps = [max(0.55, unit * h + 0.35) for h in ex_heights[:-1]]
    total = sum(unit * h + 0.25 for h in heights) + sum(gaps) + 0.3
    width = 6.4 if any(ex_heights) else 3.2  # without exclusion boxes the main column is centred
    fig = _new(width, total)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, total)
    ax.axis("off")
    x0 = 1.6  # the main column; exclusion boxes sit to its right
    box = {"boxstyle": "round,pad=0.35", "fc": "#eef3f8", "ec": "#1f4e79", "lw": 1}
    exbox = {"boxstyle": "round,pad=0.35", "fc": "#fbf3ea", "ec": "#b9770e", "lw": 1}
    y = total - 0.15
    centers = []
    for i, s in enumerate(steps):
        h = unit * heights[i] + 0.25
        cy = y - h / 2
        ax.text(x0, cy, s.text, ha="center", va="center", fontsize=9, bbox=box)
        centers.append((cy, h))
        y -= h
        if i < n - 1:
            gap = gaps[i]
            ax.annotate("", xy=(x0, y - gap + 0.12), xytext=(x0, y - 0.12),
                        arrowprops={"arrowstyle": "-|>", "color": "#1f4e79", "lw": 1})
            if s.exclusion:
                my = y - gap / 2
                ax.plot([x0, x0 + 1.1], [my, my], color="#b9770e", lw=1)
                ax.text(x0 + 1.2, my, s.exclusion, ha="left", va="center", fontsize=8, bbox=exbox)
            y -= gap
    return fig


# -- cellular kinetics ----------------------------------------------------------------


def spaghetti_figure(profiles: Sequence[tuple[np.ndarray, np.ndarray]], median: tuple[np.ndarray, np.ndarray],
                     *, xlabel: str, ylabel: str, lloq: float | None = None):
    """Individual expansion profiles (thin grey lines) on a log axis with the median profile in bold."""
    fig = _new(7.2, 4.4)
    ax = fig.add_subplot(1, 1, 1)
    for x, y in profiles:
        ok = np.asarray(y, float) > 0
        ax.plot(np.asarray(x, float)[ok], np.asarray(y, float)[ok], color="#7f8c8d", lw=0.6, alpha=0.55)
    mx, my = median
    ok = np.asarray(my, float) > 0
    ax.plot(np.asarray(mx, float)[ok], np.asarray(my, float)[ok], color=PALETTE[1], lw=2.4, marker="o", ms=4,
            label="Median")
    if lloq:
        ax.axhline(lloq, ls=":", color="#555", lw=1, label="LLOQ")
    ax.set_yscale("log")
    # linear over the expansion phase (days 0-28), logarithmic after it, so both phases are readable
    ax.set_xscale("symlog", linthresh=28, linscale=1.5)
    last = max([float(np.max(x)) for x, _ in profiles if len(x)] + [28.0])
    ticks = [t for t in (0, 7, 14, 21, 28, 90, 180, 365, 730, 1095, 1825) if t <= last * 1.05]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlim(-1, last * 1.1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    fig.subplots_adjust(left=0.13, right=0.97, top=0.96, bottom=0.12)
    return fig


@dataclass(frozen=True)
class FunnelPoint:
    label: str
    n: int
    proportion: float  # 0-1
    outside: bool = False  # outside the outer control limits: labelled


def funnel_figure(points: Sequence[FunnelPoint], target: float, limits: Sequence[tuple[float, Sequence[float],
                  Sequence[float], Sequence[float]]], *, xlabel: str, ylabel: str):
    """A funnel plot: each unit's proportion against its denominator, the overall proportion as a line and the
    control limits (``(level, n grid, lower, upper)`` per level) as curves; units marked ``outside`` are labelled
    so that they can be found in the table."""
    fig = _new(6.4, 4.2)
    ax = fig.add_axes((0.11, 0.13, 0.86, 0.8))
    styles = ((":", "#888"), ("--", "#555"))
    for (level, grid, lower, upper), (ls, color) in zip(limits, styles):
        ax.plot(grid, [100 * v for v in lower], ls=ls, color=color, lw=1, label=f"{level:.1%} limits")
        ax.plot(grid, [100 * v for v in upper], ls=ls, color=color, lw=1)
    ax.axhline(100 * target, color=PALETTE[1], lw=1, label=f"Overall {100 * target:.1f}%")
    ax.scatter([p.n for p in points], [100 * p.proportion for p in points], s=22, color=PALETTE[0], zorder=3,
               clip_on=False)
    for p in points:
        if p.outside:
            ax.annotate(p.label, (p.n, 100 * p.proportion), xytext=(4, 3), textcoords="offset points", fontsize=7.5)
    ax.set_ylim(0, 102)
    ax.set_xlim(0, max([p.n for p in points] + [1]) * 1.05)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.tick_params(labelsize=8.5)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7.5, frameon=False, loc="lower right")
    return fig


def box_strip_figure(panels: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]]]], *, ylabel: str, log: bool = True):
    """Side-by-side panels (one per grouping, e.g. best response, CRS grade, ICANS), each a box plot per group
    (median, quartiles, whiskers to 1.5 IQR) with every patient's value as a jittered point over it. The jitter is
    a fixed pattern (no randomness), so the figure is reproducible."""
    fig = _new(3.0 * len(panels) + 0.8, 4.2)
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, (title, groups) in zip(axes, panels):
        data = [np.asarray(v, float) for _, v in groups]
        ax.boxplot(data, widths=0.55, showfliers=False, medianprops={"color": PALETTE[1], "lw": 2},
                   boxprops={"color": "#444"}, whiskerprops={"color": "#444"}, capprops={"color": "#444"})
        for i, v in enumerate(data, start=1):
            offs = ((np.arange(v.size) * 0.618) % 1 - 0.5) * 0.35
            ax.scatter(i + offs, v, s=14, color=PALETTE[0], alpha=0.7, zorder=3)
        ax.set_xticks(range(1, len(groups) + 1), [f"{name}\n(n = {len(v)})" for (name, _), v in zip(groups, data)],
                      fontsize=8)
        ax.set_title(title, fontsize=10)
        if log:
            ax.set_yscale("log")
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_ylabel(ylabel)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.9, bottom=0.18, wspace=0.08)
    return fig
