package moed.tools.analyze;

import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * The analysis as one self-contained HTML page (no scripts, no external files): the text summary, the expert
 * heat map, hit rate over time, the stall histogram and the miss-ratio curves as inline SVG.
 */
public final class HtmlReport {
    private HtmlReport() {
    }

    public static String render(Report rep) {
        StringBuilder h = new StringBuilder();
        String model = rep.summary().model().name();
        h.append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>moed analyze: ").append(esc(model))
                .append("</title><style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}"
                        + "td,th{padding:2px 6px;text-align:right;font-size:12px}th{background:#eee}"
                        + "pre{background:#f6f6f6;padding:1em;font-size:12px;overflow-x:auto}</style></head><body>");
        h.append("<h1>moed analyze: ").append(esc(model)).append("</h1>");
        java.io.ByteArrayOutputStream text = new java.io.ByteArrayOutputStream();
        TextReport.print(rep, new java.io.PrintStream(text, true, java.nio.charset.StandardCharsets.UTF_8));
        h.append("<h2>Summary</h2><pre>").append(esc(text.toString(java.nio.charset.StandardCharsets.UTF_8))).append("</pre>");
        heat(h, rep.heat());
        if (!rep.hitRateOverTime().isEmpty()) {
            h.append("<h2>Hit rate over time</h2>");
            List<Report.TimePoint> t = rep.hitRateOverTime();
            chart(h, t.stream().mapToDouble(Report.TimePoint::seconds).toArray(), "seconds",
                    new Series("hit rate", "#1f77b4", t.stream().mapToDouble(p -> nz(p.hitRate())).toArray()));
        }
        h.append("<h2>Miss-ratio curves</h2><p>Hit rate of the recorded routing replayed through each policy, by cache"
                + " size (GiB).</p>");
        List<Report.CurvePoint> c = rep.curves().points();
        double[] x = c.stream().mapToDouble(Report.CurvePoint::gib).toArray();
        chart(h, x, "GiB", series("lru", "#1f77b4", c, Report.CurvePoint::lru), series("lfu", "#ff7f0e", c, Report.CurvePoint::lfu),
                series("heat", "#2ca02c", c, Report.CurvePoint::heat), series("belady", "#d62728", c, Report.CurvePoint::belady));
        if (rep.stallHistogram().stream().anyMatch(b -> b.count() > 0)) {
            h.append("<h2>Stall histogram</h2><table><tr><th>wait</th><th>count</th><th>total ms</th><th></th></tr>");
            long max = rep.stallHistogram().stream().mapToLong(Report.HistogramBin::count).max().orElse(1);
            for (Report.HistogramBin b : rep.stallHistogram()) {
                h.append(String.format(Locale.ROOT, "<tr><td>%s</td><td>%d</td><td>%.2f</td><td style=\"text-align:left\">"
                        + "<div style=\"background:#d62728;height:10px;width:%dpx\"></div></td></tr>",
                        Double.isInfinite(b.toMicros()) ? "&ge; " + (long) b.fromMicros() + " &micro;s"
                                : (long) b.fromMicros() + "&ndash;" + (long) b.toMicros() + " &micro;s",
                        b.count(), b.totalMs(), (int) (300 * b.count() / Math.max(1, max))));
            }
            h.append("</table>");
        }
        h.append("</body></html>\n");
        return h.toString();
    }

    private static void heat(StringBuilder h, int[][] heat) {
        h.append("<h2>Expert heat</h2><p>Share of each layer's routing choices taken by each expert (darker is hotter).</p>"
                + "<table><tr><th>layer</th>");
        int experts = heat.length == 0 ? 0 : heat[0].length;
        for (int e = 0; e < experts; e++) {
            h.append("<th>").append(e).append("</th>");
        }
        h.append("</tr>");
        for (int l = 0; l < heat.length; l++) {
            long sum = 0;
            int max = 1;
            for (int v : heat[l]) {
                sum += v;
                max = Math.max(max, v);
            }
            h.append("<tr><th>").append(l).append("</th>");
            for (int e = 0; e < experts; e++) {
                double share = sum == 0 ? 0 : heat[l][e] / (double) sum;
                int shade = 255 - (int) (200.0 * heat[l][e] / max);
                h.append(String.format(Locale.ROOT, "<td style=\"background:rgb(255,%d,%d)\" title=\"%d\">%.0f</td>",
                        shade, shade, heat[l][e], 100 * share));
            }
            h.append("</tr>");
        }
        h.append("</table>");
    }

    private record Series(String name, String color, double[] y) {
    }

    private static Series series(String name, String color, List<Report.CurvePoint> c, ToDoubleFunction<Report.CurvePoint> f) {
        return new Series(name, color, c.stream().mapToDouble(p -> nz(f.applyAsDouble(p))).toArray());
    }

    /** A line chart with y in [0, 1]. */
    private static void chart(StringBuilder h, double[] x, String xLabel, Series... series) {
        int w = 640;
        int ht = 240;
        int pad = 40;
        double xmin = x.length == 0 ? 0 : x[0];
        double xmax = x.length == 0 ? 1 : Math.max(x[x.length - 1], xmin + 1e-9);
        h.append(String.format(Locale.ROOT, "<svg width=\"%d\" height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\">", w, ht + 2 * pad));
        h.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>",
                pad, pad, w - 2 * pad, ht));
        for (int i = 0; i <= 4; i++) {
            double y = pad + ht - ht * i / 4.0;
            h.append(String.format(Locale.ROOT, "<text x=\"4\" y=\"%.1f\" font-size=\"10\">%d%%</text>", y + 3, 25 * i));
        }
        h.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"10\">%.3g</text><text x=\"%d\" y=\"%d\" "
                + "font-size=\"10\">%.3g %s</text>", pad, pad + ht + 14, xmin, w - pad - 60, pad + ht + 14, xmax, esc(xLabel)));
        int legend = 0;
        for (Series s : series) {
            StringBuilder pts = new StringBuilder();
            for (int i = 0; i < x.length; i++) {
                double px = pad + (w - 2 * pad) * (x[i] - xmin) / (xmax - xmin);
                double py = pad + ht - ht * s.y()[i];
                pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", px, py));
            }
            h.append("<polyline fill=\"none\" stroke-width=\"2\" stroke=\"").append(s.color()).append("\" points=\"")
                    .append(pts).append("\"/>");
            h.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"%s\">%s</text>",
                    pad + 10 + 70 * legend++, pad - 8, s.color(), esc(s.name())));
        }
        h.append("</svg>");
    }

    private static double nz(double v) {
        return Double.isNaN(v) ? 0 : v;
    }

    private static String esc(String s) {
        return s == null ? "" : s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
