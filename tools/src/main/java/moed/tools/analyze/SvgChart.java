package moed.tools.analyze;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.DoubleFunction;

/**
 * One chart as inline SVG, for the analysis page: a plot area with a labelled x and y axis, stacked bars or lines,
 * labelled markers, and a legend in a column of its own to the right, so no series name can run into the plot.
 * The x axis is either categories (one slot per layer, say) or a linear range; NaN values leave a gap. Every string
 * it writes is escaped.
 */
final class SvgChart {
    private static final int WIDTH = 820;
    private static final int HEIGHT = 300;
    private static final int LEFT = 72;
    private static final int RIGHT = 190;
    private static final int TOP = 16;
    private static final int BOTTOM = 52;
    private static final int PLOT_W = WIDTH - LEFT - RIGHT;
    private static final int PLOT_H = HEIGHT - TOP - BOTTOM;
    /** Marker labels: line height, space between frame and text, and a width per character that bold 12 px sans-serif stays within. */
    private static final int LINE_HEIGHT = 15;
    private static final int PAD = 4;
    private static final double CHAR_WIDTH = 7.6;

    /** One named, coloured set of values, one per x; dashed for a bound or a secondary measure. */
    record Series(String name, String color, double[] y, boolean dashed) {
        Series(String name, String color, double[] y) {
            this(name, color, y, false);
        }
    }

    /**
     * A linear axis from min to max with a tick every step: its label names the quantity and its unit, tick writes a
     * tick's value and value writes one in a tooltip.
     */
    record Axis(String label, double min, double max, double step, DoubleFunction<String> tick,
                DoubleFunction<String> value) {
        /** A share in [0, 1], written as a percentage. */
        static Axis share(String label) {
            return new Axis(label, 0, 1, 0.25, v -> fmt("%.0f%%", 100 * v), v -> fmt("%.1f%%", 100 * v));
        }

        /** From 0 to a round number at or above dataMax (1 when there is nothing to show); valueFormat for tooltips. */
        static Axis upTo(String label, double dataMax, String valueFormat) {
            double top = dataMax > 0 && Double.isFinite(dataMax) ? dataMax : 1;
            double step = niceStep(top / 5);
            double max = Math.ceil(top / step - 1e-9) * step;
            String tickFormat = "%." + decimals(step) + "f";
            return new Axis(label, 0, max, step, v -> fmt(tickFormat, v), v -> fmt(valueFormat, v));
        }
    }

    private record LegendEntry(String name, String color, boolean bar, boolean dashed) {
    }

    private final Axis x;
    private final Axis y;
    /** Names of the x slots, or null for a linear x axis. */
    private final List<String> categories;
    private final String title;
    private final StringBuilder marks = new StringBuilder();
    /** The series' line segments, in pixels, that marker labels should not cover. */
    private final List<double[]> obstacles = new ArrayList<>();
    private final List<Marker> markers = new ArrayList<>();
    private final List<LegendEntry> legend = new ArrayList<>();

    private SvgChart(String title, Axis x, List<String> categories, Axis y) {
        this.title = title;
        this.x = x;
        this.categories = categories;
        this.y = y;
    }

    /** A chart over named slots (layers, ranges), one per x index 0, 1, ... */
    static SvgChart overCategories(String title, String xLabel, List<String> names, Axis y) {
        Axis x = new Axis(xLabel, -0.5, names.size() - 0.5, 1, v -> names.get((int) Math.round(v)), v -> names.get((int) Math.round(v)));
        return new SvgChart(title, x, names, y);
    }

    static SvgChart overRange(String title, Axis x, Axis y) {
        return new SvgChart(title, x, null, y);
    }

    /** Bars per category, each series stacked on the ones before it (for shares that add up to the whole). */
    SvgChart stackedBars(List<Series> series) {
        double band = PLOT_W / (double) categories.size();
        double w = Math.min(48, band * 0.7);
        for (int i = 0; i < categories.size(); i++) {
            double base = 0;
            for (Series s : series) {
                double v = s.y()[i];
                if (Double.isNaN(v) || v <= 0) {
                    continue;
                }
                double y0 = py(base);
                double y1 = py(base + v);
                marks.append(fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%s %s: %s</title></rect>",
                        px(i) - w / 2, y1, w, Math.max(0, y0 - y1), Html.esc(s.color()), Html.esc(x.label()),
                        Html.esc(categories.get(i)), Html.esc(s.name() + " " + y.value().apply(v))));
                base += v;
            }
        }
        for (Series s : series) {
            legend.add(new LegendEntry(s.name(), s.color(), true, false));
        }
        return this;
    }

    /** A line through (xs[i], y[i]), broken where y is NaN; with dots, each value is marked and has a tooltip. */
    SvgChart line(double[] xs, Series s, boolean dots) {
        StringBuilder pts = new StringBuilder();
        for (int i = 0; i <= xs.length; i++) {
            boolean gap = i == xs.length || !Double.isFinite(s.y()[i]);
            if (gap) {
                polyline(pts, s);
                pts.setLength(0);
                continue;
            }
            pts.append(fmt("%.1f,%.1f ", px(xs[i]), py(s.y()[i])));
            if (i > 0 && Double.isFinite(s.y()[i - 1])) {
                obstacles.add(new double[] {px(xs[i - 1]), py(s.y()[i - 1]), px(xs[i]), py(s.y()[i])});
            }
            if (dots) {
                marks.append(fmt("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%s %s: %s</title></circle>",
                        px(xs[i]), py(s.y()[i]), Html.esc(s.color()), Html.esc(x.label()), Html.esc(x.value().apply(xs[i])),
                        Html.esc(s.name() + " " + y.value().apply(s.y()[i]))));
            }
        }
        legend.add(new LegendEntry(s.name(), s.color(), false, s.dashed()));
        return this;
    }

    private void polyline(StringBuilder pts, Series s) {
        if (pts.isEmpty()) {
            return;
        }
        marks.append("<polyline fill=\"none\" stroke-width=\"2\" stroke=\"").append(Html.esc(s.color())).append('"')
                .append(s.dashed() ? " stroke-dasharray=\"6 4\"" : "").append(" points=\"").append(pts.toString().strip())
                .append("\"><title>").append(Html.esc(s.name())).append("</title></polyline>");
    }

    /**
     * A point called out with a label: a ring, a dashed drop line to the x axis (to read its x off), and the label's
     * lines where they cross the fewest drawn lines (see {@link #place}), joined to the ring by a leader.
     */
    SvgChart marker(String cssClass, double mx, double my, String color, String... label) {
        if (!Double.isFinite(mx) || !Double.isFinite(my)) {
            return this; // nothing to point at; drawing it would write NaN coordinates
        }
        double cx = px(mx);
        double cy = py(my);
        markers.add(new Marker(cssClass, cx, cy, color, label));
        return this;
    }

    private record Marker(String cssClass, double cx, double cy, String color, String[] label) {
    }

    /** A label's frame in pixels: its top-left corner and its size. */
    private record Box(double x, double y, double w, double h) {
        boolean inside(double left, double top, double right, double bottom) {
            return x >= left && y >= top && x + w <= right && y + h <= bottom;
        }

        boolean overlaps(Box o) {
            return x < o.x + o.w && o.x < x + w && y < o.y + o.h && o.y < y + h;
        }
    }

    /**
     * Where a marker's label goes: of the boxes above or below the point (nearer or farther off, shifted from right of
     * it to left of it), inside the plot, the one that covers the fewest drawn line segments (other markers' drop
     * lines and rings included) and no label placed before it; distance costs a little, so a free spot farther off
     * beats one on a line. No layout engine runs here, so text widths are estimated.
     */
    private Box place(Marker m, List<Box> placed) {
        double w = 0;
        for (String l : m.label()) {
            w = Math.max(w, l.length() * CHAR_WIDTH + 2 * PAD);
        }
        double h = LINE_HEIGHT * m.label().length + PAD;
        Box best = null;
        double bestScore = Double.MAX_VALUE;
        for (double d : new double[] {10, 30, 60, 100, 150}) {
            for (double shift : new double[] {0, 0.25, 0.5, 0.75, 1}) {
                for (boolean above : new boolean[] {true, false}) {
                    Box b = new Box(m.cx() + 8 - shift * (w + 16), above ? m.cy() - d - h : m.cy() + d, w, h);
                    if (!b.inside(LEFT + 2, TOP, LEFT + PLOT_W - 2, TOP + PLOT_H - 4)) {
                        continue;
                    }
                    double score = d / 200;
                    for (double[] seg : obstacles) {
                        score += crosses(seg, b) ? 1 : 0;
                    }
                    for (Marker o : markers) {
                        if (o != m && (crosses(new double[] {o.cx(), o.cy(), o.cx(), TOP + PLOT_H}, b)
                                || crosses(new double[] {o.cx() - 7, o.cy(), o.cx() + 7, o.cy()}, b))) {
                            score += 1;
                        }
                    }
                    for (Box p : placed) {
                        score += b.overlaps(p) ? 100 : 0;
                    }
                    if (score < bestScore) {
                        bestScore = score;
                        best = b;
                    }
                }
            }
        }
        // Nowhere inside the plot (a label wider than the plot): above and to the right, as near as it gets.
        return best != null ? best : new Box(m.cx() + 8, m.cy() - 10 - h, w, h);
    }

    /** Whether the segment {x1, y1, x2, y2} passes through the box (Liang-Barsky clipping). */
    private static boolean crosses(double[] seg, Box b) {
        double x1 = seg[0];
        double y1 = seg[1];
        double dx = seg[2] - x1;
        double dy = seg[3] - y1;
        double t0 = 0;
        double t1 = 1;
        double[] p = {-dx, dx, -dy, dy};
        double[] q = {x1 - b.x(), b.x() + b.w() - x1, y1 - b.y(), b.y() + b.h() - y1};
        for (int i = 0; i < 4; i++) {
            if (p[i] == 0) {
                if (q[i] < 0) {
                    return false;
                }
            } else {
                double t = q[i] / p[i];
                if (p[i] < 0) {
                    t0 = Math.max(t0, t);
                } else {
                    t1 = Math.min(t1, t);
                }
                if (t0 > t1) {
                    return false;
                }
            }
        }
        return true;
    }

    private void markers(StringBuilder h) {
        List<Box> placed = new ArrayList<>();
        for (Marker m : markers) {
            Box b = place(m, placed);
            placed.add(b);
            String color = Html.esc(m.color());
            h.append("<g class=\"marker ").append(Html.esc(m.cssClass())).append("\">");
            // The leader runs from the ring to the label's nearest corner.
            double lx = Math.max(b.x(), Math.min(m.cx(), b.x() + b.w()));
            double ly = Math.max(b.y(), Math.min(m.cy(), b.y() + b.h()));
            h.append(fmt("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" stroke-dasharray=\"3 3\"/>",
                    m.cx(), m.cy(), m.cx(), TOP + PLOT_H, color));
            h.append(fmt("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>", m.cx(), m.cy(), lx, ly, color));
            h.append(fmt("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"white\" stroke=\"%s\" stroke-width=\"3\"/>",
                    m.cx(), m.cy(), color));
            h.append(fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\" fill-opacity=\"0.85\""
                    + " stroke=\"%s\" rx=\"3\"/>", b.x(), b.y(), b.w(), b.h(), color));
            h.append(fmt("<text fill=\"%s\" font-weight=\"bold\">", color));
            for (int i = 0; i < m.label().length; i++) {
                h.append(fmt("<tspan x=\"%.1f\" y=\"%.1f\">%s</tspan>", b.x() + PAD, b.y() + 13 + LINE_HEIGHT * i,
                        Html.esc(m.label()[i])));
            }
            h.append("</text></g>");
        }
    }

    String svg() {
        StringBuilder h = new StringBuilder();
        h.append(fmt("<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
                + " role=\"img\" aria-label=\"%s\" font-family=\"sans-serif\" font-size=\"12\"><title>%s</title>",
                WIDTH, HEIGHT, WIDTH, HEIGHT, Html.esc(title), Html.esc(title)));
        // Horizontal grid lines with the y ticks, drawn first so that bars and lines lie on top of them.
        h.append("<g class=\"axis y\">");
        int yTicks = (int) Math.round((y.max() - y.min()) / y.step());
        for (int i = 0; i <= yTicks; i++) {
            double v = y.min() + i * y.step();
            h.append(fmt("<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>", LEFT, py(v), LEFT + PLOT_W, py(v)));
            h.append(fmt("<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#444\">%s</text>", LEFT - 6, py(v) + 4,
                    Html.esc(y.tick().apply(v))));
        }
        h.append("</g>");
        h.append(marks);
        h.append("<g class=\"axis x\">");
        h.append(fmt("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>", LEFT, TOP + PLOT_H, LEFT + PLOT_W, TOP + PLOT_H));
        h.append(fmt("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>", LEFT, TOP, LEFT, TOP + PLOT_H));
        for (double v : xTicks()) {
            h.append(fmt("<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#444\"/>", px(v), TOP + PLOT_H, px(v), TOP + PLOT_H + 4));
            h.append(fmt("<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#444\">%s</text>", px(v), TOP + PLOT_H + 17,
                    Html.esc(x.tick().apply(v))));
        }
        h.append("</g>");
        h.append(fmt("<text class=\"axis-label x\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\">%s</text>",
                LEFT + PLOT_W / 2.0, HEIGHT - 10, Html.esc(x.label())));
        h.append(fmt("<text class=\"axis-label y\" transform=\"rotate(-90)\" x=\"%.1f\" y=\"18\" text-anchor=\"middle\""
                + " font-size=\"13\">%s</text>", -(TOP + PLOT_H / 2.0), Html.esc(y.label())));
        markers(h);
        legend(h);
        return h.append("</svg>").toString();
    }

    private void legend(StringBuilder h) {
        h.append("<g class=\"legend\">");
        int lx = LEFT + PLOT_W + 20;
        for (int i = 0; i < legend.size(); i++) {
            LegendEntry e = legend.get(i);
            int ly = TOP + 10 + 20 * i;
            if (e.bar()) {
                h.append(fmt("<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"12\" fill=\"%s\"/>", lx, ly - 6, Html.esc(e.color())));
            } else {
                h.append(fmt("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>", lx - 4, ly,
                        lx + 18, ly, Html.esc(e.color()), e.dashed() ? " stroke-dasharray=\"6 4\"" : ""));
            }
            h.append(fmt("<text x=\"%d\" y=\"%d\" fill=\"#222\">%s</text>", lx + 24, ly + 4, Html.esc(e.name())));
        }
        h.append("</g>");
    }

    /** Every category while their labels fit (about 28 px each), else every n-th; on a range, every step. */
    private List<Double> xTicks() {
        List<Double> ticks = new ArrayList<>();
        if (categories != null) {
            int every = Math.max(1, (int) Math.ceil(categories.size() * 28.0 / PLOT_W));
            for (int i = 0; i < categories.size(); i += every) {
                ticks.add((double) i);
            }
        } else {
            int n = (int) Math.round((x.max() - x.min()) / x.step());
            for (int i = 0; i <= n; i++) {
                ticks.add(x.min() + i * x.step());
            }
        }
        return ticks;
    }

    private double px(double v) {
        return LEFT + PLOT_W * (v - x.min()) / (x.max() - x.min());
    }

    private double py(double v) {
        double clamped = Math.max(y.min(), Math.min(y.max(), v));
        return TOP + PLOT_H - PLOT_H * (clamped - y.min()) / (y.max() - y.min());
    }

    /** 1, 2, 2.5 or 5 times a power of ten, at least raw. */
    static double niceStep(double raw) {
        double mag = Math.pow(10, Math.floor(Math.log10(raw)));
        double f = raw / mag;
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
    }

    /** The decimals that write every multiple of step exactly. */
    private static int decimals(double step) {
        for (int d = 0; d < 9; d++) {
            double scaled = step * Math.pow(10, d);
            if (Math.abs(scaled - Math.rint(scaled)) < 1e-6 * Math.max(1, scaled)) {
                return d;
            }
        }
        return 9;
    }

    private static String fmt(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }
}
