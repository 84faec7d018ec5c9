"""Figures: reproducible bytes, and no overlapping text (checked on the drawn layout, not by eye only)."""

from __future__ import annotations

import itertools

import numpy as np

from cartalysis.report import figures as F


def _curve(label, seed, n=40):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.exponential(15, n))
    s = np.cumprod(np.full(n, 0.97))
    cen = t[::3]
    return F.Curve(label, t, s, s - 0.1, np.minimum(s + 0.1, 1), cen, np.interp(cen, t, s),
                   at_risk=(40, 33, 25, 17, 9, 2))


def _extents(fig, texts):
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    return [(t.get_text(), t.get_window_extent(r)) for t in texts if t.get_visible() and t.get_text()]


def _assert_no_overlap(items):
    for (a, ba), (b, bb) in itertools.combinations(items, 2):
        assert not ba.overlaps(bb), f"{a!r} overlaps {b!r}"


def _inside(fig, items):
    box = fig.bbox
    for name, b in items:
        assert b.x0 >= box.x0 - 1 and b.x1 <= box.x1 + 1 and b.y0 >= box.y0 - 1 and b.y1 <= box.y1 + 1, name


def test_km_risk_table_readable():
    curves = [_curve("Inotuzumab-naive long label", 1), _curve("Inotuzumab-exposed", 2)]
    fig = F.step_figure(curves, xlabel="Months since infusion", ylabel="Survival (%)",
                        risk_times=[0, 6, 12, 18, 24, 30], annotation="Log-rank P = .013")
    risk_ax = fig.axes[1]
    texts = list(risk_ax.texts) + list(risk_ax.get_yticklabels())
    items = _extents(fig, texts)
    assert len(items) == 2 * 6 + 2 + 1
    _assert_no_overlap(items)
    _inside(fig, items)
    # the numbers sit under the x ticks of the curve axes
    ax = fig.axes[0]
    xs = sorted({round(float(t.get_position()[0]), 6) for t in risk_ax.texts if t.get_text() != "Number at risk"})
    assert xs == [float(x) for x in ax.get_xticks() if 0 <= x <= 30]
    main = _extents(fig, list(ax.get_xticklabels()) + [ax.xaxis.label] + list(ax.get_yticklabels()))
    _assert_no_overlap(main + items)


def test_km_legend_and_p_value_above_the_curves():
    """Three groups (ROCCA by prior inotuzumab): the legend (headed by the variable) and the log-rank P sit above
    the plot area, side by side, inside the figure; the risk table has one row per group under the ticks."""
    curves = [_curve("Naive", 1), _curve("Responsive", 2), _curve("Refractory", 3)]
    fig = F.step_figure(curves, xlabel="Months since infusion", ylabel="Overall survival (%)",
                        risk_times=[0, 6, 12, 18, 24, 30], annotation="Log-rank P < .0001",
                        legend_title="Prior inotuzumab")
    ax, risk_ax = fig.axes
    leg = ax.get_legend()
    items = _extents(fig, [ax.texts[0]])
    items.append(("legend", leg.get_window_extent(fig.canvas.get_renderer())))
    plot_top = ax.get_window_extent().y1
    for name, b in items:
        assert b.y0 >= plot_top - 1, f"{name!r} covers the plot area"
    _assert_no_overlap(items)
    _inside(fig, items)
    assert [t.get_text() for t in leg.get_texts()] == ["Naive", "Responsive", "Refractory"]
    assert leg.get_title().get_text() == "Prior inotuzumab"
    rows = sorted({round(float(t.get_position()[1]), 6) for t in risk_ax.texts if t.get_text() != "Number at risk"})
    assert rows == [0.0, 1.0, 2.0]
    _assert_no_overlap(_extents(fig, list(risk_ax.texts) + list(risk_ax.get_yticklabels())))


def test_forest_labels_and_texts_do_not_overlap():
    rows = [F.ForestRow("All", 85.4, 72.2, 93.9, "41/48   85.4 (72.2–93.9)"),
            F.ForestRow("Disease status", None, None, None, "", heading=True)] + [
        F.ForestRow(f"Relapsed/refractory after HSCT {i}", 80.0, 60.0, 95.0, "8/10   80.0 (44.4–97.5)") for i in range(6)]
    fig = F.forest_figure(rows, xlabel="Best ORR, %", reference=25, log=False, right_title="n/N   % (95% CI)",
                          xlim=(0, 100))
    ax = fig.axes[0]
    items = _extents(fig, list(ax.get_yticklabels()) + list(fig.texts) + list(ax.get_xticklabels()))
    _assert_no_overlap(items)
    _inside(fig, items)


def _legend_box(fig):
    leg = fig.axes[0].get_legend()
    fig.canvas.draw()
    return leg, leg.get_window_extent(fig.canvas.get_renderer())


def test_swimmer_legend_inside_figure():
    lanes = [F.Lane(f"P{i}", 3.0 + i, i % 2 == 0, "responder" if i % 3 else "non_responder",
                    (("response", 1.0), ("mrd_negative", 1.0), ("relapse_cd19_neg", 2.5), ("death", 2.9 + i)))
             for i in range(30)]
    fig = F.swimmer_figure(lanes, xlabel="Months since infusion")
    leg, b = _legend_box(fig)
    assert b.x1 <= fig.bbox.x1 and b.y0 >= fig.bbox.y0
    # outside the plot area: it covers no lane
    assert b.x0 >= fig.axes[0].get_window_extent().x1
    assert {t.get_text() for t in leg.get_texts()} >= {"CR/CRi", "MRD negative", "Death", "Alive at last contact",
                                                       "Responder (CR/CRi)", "Non-responder"}


def test_swimmer_in_remission_lanes_are_neutral_and_legend_fits_few_lanes():
    """Patients infused in remission (plan efficacy.orr = "none"): one neutral lane colour, no responder legend;
    with 3 lanes the figure still grows to hold the whole legend."""
    lanes = [F.Lane(f"P{i}", 20.0 - i, i != 1, "in_remission",
                    (("mrd_negative", 1.0), ("hsct", 4.0), ("relapse_cd19_pos", 12.0), ("death", 15.0)))
             for i in range(3)]
    fig = F.swimmer_figure(lanes, xlabel="Months since infusion")
    leg, b = _legend_box(fig)
    assert b.y0 >= fig.bbox.y0 and b.y1 <= fig.bbox.y1 and b.x1 <= fig.bbox.x1
    texts = [t.get_text() for t in leg.get_texts()]
    assert "In remission at infusion" in texts and "Responder (CR/CRi)" not in texts and "CR/CRi" not in texts
    fills = {tuple(round(c, 3) for c in p.get_facecolor()) for p in fig.axes[0].patches}
    assert len(fills) == 1
    # event markers are large enough to read (relapse triangles were 4.5 pt)
    sizes = {ln.get_label(): ln.get_markersize() for ln in fig.axes[0].lines}
    assert min(sizes.values()) >= 6


def test_consort_boxes_do_not_overlap():
    steps = [F.FlowStep("Screened\nn = 92", "Not enrolled (n = 25)\n  infection: 11\n  withdrew: 2"),
             F.FlowStep("Enrolled (ITT)\nn = 67", "Not manufactured (n = 1)\n  withdrawal: 1"),
             F.FlowStep("Infused\nn = 48")]
    fig = F.consort_figure(steps)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_bbox_patch().get_window_extent(r)) for t in fig.axes[0].texts if t.get_text()]
    assert len(boxes) == 5
    _assert_no_overlap(boxes)
    _inside(fig, boxes)


def test_render_is_byte_identical():
    fig = F.step_figure([_curve("All", 3)], xlabel="Months", ylabel="OS (%)", risk_times=[0, 12, 24])
    png1, svg1 = F.render(fig)
    png2, svg2 = F.render(F.step_figure([_curve("All", 3)], xlabel="Months", ylabel="OS (%)", risk_times=[0, 12, 24]))
    assert png1 == png2 and svg1 == svg2
    assert b"<dc:date>" not in svg1
