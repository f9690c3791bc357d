package moed.tools.analyze;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.function.ToDoubleFunction;
import java.util.stream.IntStream;

/**
 * The analysis as one self-contained HTML page (no scripts, no external files, charts as inline SVG), in the order a
 * reader wants it: the recommendation, the summary as tables, the miss-ratio curves with the live cache and the
 * recommended size marked, per-layer access classes and stall, the predictor's recall per layer, then the details
 * (hit rate over time, stall histogram, expert heat, transitions). It shows the figures {@link TextReport} prints;
 * it computes none of its own beyond the per-layer on-demand share, the rest of each layer's accesses.
 */
public final class HtmlReport {
    // One colour per access class, the same in every chart and table of the page.
    private static final String RESIDENT = "#2ca02c";
    private static final String IN_TIME = "#1f77b4";
    private static final String LATE = "#ff7f0e";
    private static final String ON_DEMAND = "#d62728";
    private static final String[] PALETTE = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"};

    private static final String STYLE = "body{font-family:sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222;"
            + "line-height:1.4}h1{font-size:1.6em;margin-bottom:0}h2{margin-top:1.8em;border-bottom:1px solid #ddd}"
            + ".sub{color:#555;margin-top:.3em}.advice{background:#eef6ee;border:1px solid #9c9;border-radius:6px;padding:.8em 1.2em}"
            + ".advice h2{margin-top:0;border:none}.advice .cmd{font-size:1.15em}.notes{font-size:.9em;color:#444}"
            + "code{background:#fff;border:1px solid #ccc;border-radius:3px;padding:1px 5px}"
            + ".tables{display:grid;grid-template-columns:repeat(auto-fit,minmax(19em,1fr));gap:1.5em;align-items:start}.tables table{width:100%}"
            + "table{border-collapse:collapse;font-size:13px;margin:.5em 0}caption{text-align:left;font-weight:bold;padding:4px 0}"
            + "td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}th[scope=row]{text-align:left;font-weight:normal;color:#444;white-space:nowrap}"
            + "thead th{background:#f2f2f2}table.kv td{text-align:left}"
            + "figure{margin:1em 0}figcaption{font-weight:bold;margin-bottom:.3em}figure p{margin:.2em 0;color:#555;font-size:.9em}"
            + "svg.chart{max-width:100%;height:auto}details{margin:.5em 0}summary{cursor:pointer;color:#246}"
            + ".scroll{overflow-x:auto}.heat td{font-size:11px;padding:2px 4px}";

    private HtmlReport() {
    }

    public static String render(Report rep) {
        StringBuilder h = new StringBuilder();
        Report.Model m = rep.summary().model();
        h.append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"/><title>moed analyze: ").append(Html.esc(m.name()))
                .append("</title><style>").append(STYLE).append("</style></head><body>");
        h.append("<h1>moed analyze: ").append(Html.esc(m.name())).append("</h1>");
        h.append("<p class=\"sub\">").append(Html.esc(fmt("%d layers × %d experts, top-%d, %.3f MiB per expert", m.layers(),
                m.experts(), m.expertsUsed(), m.expertBytes() / 1048576.0))).append("</p>");
        recommendation(h, rep);
        summary(h, rep);
        // The curves back the recommendation, so they come next.
        curves(h, rep);
        layers(h, rep);
        predictor(h, rep);
        details(h, rep);
        h.append("</body></html>\n");
        return h.toString();
    }

    private static void recommendation(StringBuilder h, Report rep) {
        h.append("<section class=\"advice\"><h2>Recommendation</h2>");
        Report.Recommendation r = rep.recommendation();
        if (r == null) {
            h.append("<p>No cache size to recommend: the recording gave no points for the miss-ratio curves.</p>");
        } else {
            h.append("<p class=\"cmd\">Run with <code>").append(Html.esc(fmt("--cache-gb %.3f --cache-policy %s", r.cacheGib(),
                    r.policy()))).append("</code> (or <code>").append(Html.esc(fmt("--cache-mb %.0f", Math.ceil(r.cacheGib() * 1024))))
                    .append("</code>)</p>");
            h.append("<p>").append(Html.esc(fmt("That holds %d experts. Replaying this recording's routing, the %s policy"
                    + " finds %s of them resident at that size, for an estimated %.1f tokens/s.", r.entries(), r.policy(),
                    TextReport.pct(r.hitRate()), r.tokensPerSecond())))
                    .append("</p><p>Why: ").append(Html.esc(r.reason())).append(".</p>");
        }
        if (!rep.notes().isEmpty()) {
            h.append("<ul class=\"notes\">");
            for (String n : rep.notes()) {
                h.append("<li>").append(Html.esc(n)).append("</li>");
            }
            h.append("</ul>");
        }
        h.append("</section>");
    }

    private static void summary(StringBuilder h, Report rep) {
        Report.Summary s = rep.summary();
        Report.Model m = s.model();
        Report.Throughput tp = s.throughput();
        Report.PerToken pt = s.perToken();
        h.append("<h2>Summary</h2><div class=\"tables\">");
        h.append(new HtmlTable("kv run", "Run")
                .row("model", m.name())
                .row("shape", fmt("%d layers × %d experts, top-%d", m.layers(), m.experts(), m.expertsUsed()))
                .row("expert size", fmt("%.3f MiB", m.expertBytes() / 1048576.0))
                .row("requests", Integer.toString(tp.requests()))
                .row("prompt", tp.promptTokens() + " tokens" + rate(tp.prefillTokensPerSecond()))
                .row("decode", tp.decodeTokens() + " tokens" + rate(tp.decodeTokensPerSecond()))
                .row("compute per token", fmt("%.2f ms", pt.computeMsPerToken()))
                .row("stall per token", fmt("%.2f ms", pt.stallMsPerToken()))
                .html());
        Report.CacheSetup c = s.cache();
        Report.Outcomes o = s.outcomes();
        Report.Traffic tr = s.traffic();
        HtmlTable cache = new HtmlTable("kv cache", "Cache")
                .row("budget", c.budgetBytes() == 0 ? "none (experts read in place)"
                        : fmt("%.2f MiB, %d experts", c.budgetBytes() / 1048576.0, c.slots()))
                .row("backing", c.backing())
                .row("policy", c.policy());
        if (o.accesses() > 0) {
            cache.row("expert accesses", Long.toString(o.accesses()))
                    .row("resident when routed", TextReport.pct(o.hitRate()))
                    .row("prefetched in time", TextReport.pct(o.prefetchHitRate()))
                    .row("prefetched late", TextReport.pct(o.prefetchLateRate()))
                    .row("loaded on demand", TextReport.pct(o.missRate()))
                    .row("loaded per token", fmt("%.2f MB", pt.loadedMbPerToken()))
                    .row("loads", fmt("%d (%.1f MB)", tr.loads(), tr.bytesLoaded() / 1e6))
                    .row("evictions", Long.toString(tr.evictions()));
        }
        cache.row("backing read rate", fmt("%.2f GB/s, %s", s.bandwidth().backingGbps(), s.bandwidth().backingGbpsSource()));
        h.append(cache.html());
        Report.Prefetches pf = tr.prefetches();
        HtmlTable pred = new HtmlTable("kv predictor", "Predictor")
                .row("predictor", c.predictor())
                .row("prefetches issued", Long.toString(pf.issued()))
                .row("used", Long.toString(pf.used()))
                .row("wasted", Long.toString(pf.wasted()))
                .row("cancelled", Long.toString(pf.cancelled()));
        for (Report.PredictorRow p : rep.predictor()) {
            if (p.layer() < 0) {
                pred.row("recall, " + ahead(p.distance()), fmt("%s (%d predictions)", TextReport.pct(p.recall()), p.predictions()))
                        .row("precision, " + ahead(p.distance()), TextReport.pct(p.precision()));
            }
        }
        h.append(pred.html()).append("</div>");
    }

    /** " at N tokens/s", or nothing for a phase the recording has no timed steps of. */
    private static String rate(double tokensPerSecond) {
        return Double.isNaN(tokensPerSecond) ? "" : fmt(" at %.1f tokens/s", tokensPerSecond);
    }

    private static void layers(StringBuilder h, Report rep) {
        List<Report.LayerRow> rows = rep.layers();
        if (rows.isEmpty()) {
            return;
        }
        List<String> names = rows.stream().map(l -> Integer.toString(l.layer())).toList();
        h.append("<h2>Per layer</h2>");
        if (rep.summary().outcomes().accesses() == 0) {
            h.append("<p>No expert cache in this run (experts were read in place), so there are no accesses to classify.</p>");
        } else {
            SvgChart classes = SvgChart.overCategories("How routing found each layer's experts", "layer", names,
                    SvgChart.Axis.share("share of accesses"));
            classes.stackedBars(List.of(
                    new SvgChart.Series("resident", RESIDENT, values(rows, Report.LayerRow::hitRate)),
                    new SvgChart.Series("prefetched in time", IN_TIME, values(rows, Report.LayerRow::prefetchHitRate)),
                    new SvgChart.Series("prefetched late", LATE, values(rows, Report.LayerRow::prefetchLateRate)),
                    new SvgChart.Series("loaded on demand", ON_DEMAND, values(rows, HtmlReport::onDemand))));
            figure(h, "Expert accesses by outcome", "Resident when the router chose it, prefetched and in time, prefetched"
                    + " but late, or loaded on demand after routing.", classes);
            double[] stall = values(rows, Report.LayerRow::stallMsPerToken);
            SvgChart stallChart = SvgChart.overCategories("Stall per token by layer", "layer", names,
                    SvgChart.Axis.upTo("stall per token (ms)", Arrays.stream(stall).max().orElse(0), "%.3f ms"));
            stallChart.stackedBars(List.of(new SvgChart.Series("waiting for loads", ON_DEMAND, stall)));
            figure(h, "Stall per token", "Time spent waiting for expert loads at each layer, per token.", stallChart);
        }
        HtmlTable t = new HtmlTable("layers", null).head("layer", "accesses", "resident", "prefetched in time", "prefetched late",
                "stall (ms/token)", "prefetches used / issued", "hottest expert (share)");
        for (Report.LayerRow l : rows) {
            t.row(Integer.toString(l.layer()), Long.toString(l.accesses()), TextReport.pct(l.hitRate()),
                    TextReport.pct(l.prefetchHitRate()), TextReport.pct(l.prefetchLateRate()), fmt("%.3f", l.stallMsPerToken()),
                    l.prefetchesUsed() + " / " + l.prefetchesIssued(), l.hottestExpert() + " (" + TextReport.pct(l.hottestShare()) + ")");
        }
        h.append("<details><summary>Per-layer table</summary>").append(t.html()).append("</details>");
    }

    /** The accesses of a layer not resident, prefetched in time or late: misses and in-place reads, as the summary counts them. */
    private static double onDemand(Report.LayerRow l) {
        return Double.isNaN(l.hitRate()) ? Double.NaN
                : Math.max(0, 1 - l.hitRate() - l.prefetchHitRate() - l.prefetchLateRate());
    }

    private static void predictor(StringBuilder h, Report rep) {
        List<Report.PredictorRow> perLayer = rep.predictor().stream().filter(p -> p.layer() >= 0).toList();
        if (perLayer.isEmpty()) {
            return;
        }
        int layers = rep.layers().size();
        List<String> names = IntStream.range(0, layers).mapToObj(Integer::toString).toList();
        double[] xs = IntStream.range(0, layers).asDoubleStream().toArray();
        // A predictor that names as many experts as the router chooses has precision equal to recall: one line says both.
        boolean samePrecision = perLayer.stream().allMatch(p -> Double.isNaN(p.precision())
                || Math.abs(p.precision() - p.recall()) < 1e-9);
        SvgChart chart = SvgChart.overCategories("Predictor recall by layer", "layer predicted", names,
                SvgChart.Axis.share(samePrecision ? "recall (= precision)" : "recall, precision"));
        TreeSet<Integer> distances = new TreeSet<>();
        perLayer.forEach(p -> distances.add(p.distance()));
        int i = 0;
        for (int d : distances) {
            double[] recall = new double[layers];
            double[] precision = new double[layers];
            Arrays.fill(recall, Double.NaN);
            Arrays.fill(precision, Double.NaN);
            for (Report.PredictorRow p : perLayer) {
                if (p.distance() == d && p.layer() < layers) {
                    recall[p.layer()] = p.recall();
                    precision[p.layer()] = p.precision();
                }
            }
            String color = PALETTE[i++ % PALETTE.length];
            chart.line(xs, new SvgChart.Series("recall, " + ahead(d), color, recall), true);
            if (!samePrecision) {
                chart.line(xs, new SvgChart.Series("precision, " + ahead(d), color, precision, true), true);
            }
        }
        h.append("<h2>Predictor</h2>");
        figure(h, "Recall and precision by layer", samePrecision
                ? "Share of the router's choices the predictor named in advance (precision is the same here: each"
                        + " prediction named as many experts as the router chose)."
                : "Recall: share of the router's choices the predictor named in advance. Precision (dashed): share of"
                        + " the predicted experts the router then chose.", chart);
        HtmlTable t = new HtmlTable("predictor", null).head("layer", "distance", "predictions", "recall", "precision");
        for (Report.PredictorRow p : rep.predictor()) {
            t.row(p.layer() < 0 ? "all" : Integer.toString(p.layer()), Integer.toString(p.distance()),
                    Long.toString(p.predictions()), TextReport.pct(p.recall()), TextReport.pct(p.precision()));
        }
        h.append("<details><summary>Predictor table</summary>").append(t.html()).append("</details>");
    }

    private static String ahead(int distance) {
        return distance + (distance == 1 ? " layer ahead" : " layers ahead");
    }

    private static void curves(StringBuilder h, Report rep) {
        Report.Curves c = rep.curves();
        List<Report.CurvePoint> pts = c.points();
        h.append("<h2>Miss-ratio curves</h2>");
        if (pts.isEmpty()) {
            h.append("<p>No curve points: the recording has no routing to replay.</p>");
            return;
        }
        // Small models' caches are a few MiB: a GiB axis would read 0.001, 0.002, ...
        double maxGib = pts.get(pts.size() - 1).gib();
        boolean mib = maxGib < 1;
        double scale = mib ? 1024 : 1;
        String unit = mib ? "MiB" : "GiB";
        double[] xs = pts.stream().mapToDouble(p -> p.gib() * scale).toArray();
        SvgChart chart = SvgChart.overRange("Hit rate by cache size and policy",
                SvgChart.Axis.upTo("cache size (" + unit + ")", maxGib * scale, "%.3f " + unit),
                SvgChart.Axis.share("hit rate (replayed)"));
        chart.line(xs, new SvgChart.Series("lru", PALETTE[0], values(pts, Report.CurvePoint::lru)), false)
                .line(xs, new SvgChart.Series("lfu", PALETTE[1], values(pts, Report.CurvePoint::lfu)), false)
                .line(xs, new SvgChart.Series("heat", PALETTE[2], values(pts, Report.CurvePoint::heat)), false)
                .line(xs, new SvgChart.Series("belady (optimum)", "#d62728", values(pts, Report.CurvePoint::belady), true), false);
        Report.Summary s = rep.summary();
        Report.CacheSetup live = s.cache();
        Report.Outcomes o = s.outcomes();
        String liveNote;
        if (live.slots() > 0 && o.accesses() > 0) {
            // The resident share is the live figure comparable with the replays (which have no prefetch).
            chart.marker("live", live.slots() * (double) s.model().expertBytes() / (1L << 30) * scale, o.hitRate(), "#000",
                    fmt("live cache: %d experts, %s", live.slots(), live.policy()),
                    fmt("%s resident when routed", TextReport.pct(o.hitRate())),
                    fmt("+%s prefetched in time", TextReport.pct(o.prefetchHitRate())));
            liveNote = " The ringed black point is the live cache: its size and the share of experts it had resident when"
                    + " routed (prefetches, pins and warm start make it differ from the replays).";
        } else {
            liveNote = " The run had no expert cache, so there is no live point to mark.";
        }
        Report.Recommendation r = rep.recommendation();
        if (r != null) {
            chart.marker("recommended", r.cacheGib() * scale, r.hitRate(), "#6a3d9a",
                    "recommended", fmt("%d experts, %s: %s", r.entries(), r.policy(), TextReport.pct(r.hitRate())));
        }
        figure(h, "Hit rate by cache size", fmt("Hit rate of the recorded routing (%d accesses, %d tokens, %d distinct experts)"
                + " replayed through each eviction policy at each cache size; Belady's optimum bounds them all.",
                c.traceLength(), c.tokens(), c.distinctExperts()) + liveNote, chart);
        HtmlTable t = new HtmlTable("curves", null).head("experts", unit, "lru", "lfu", "heat", "belady", "est. stall (ms/token)",
                "est. tokens/s");
        for (Report.CurvePoint p : pts) {
            t.row(Integer.toString(p.entries()), fmt("%.3f", p.gib() * scale), TextReport.pct(p.lru()), TextReport.pct(p.lfu()),
                    TextReport.pct(p.heat()), TextReport.pct(p.belady()), fmt("%.2f", p.stallMsPerToken()),
                    fmt("%.1f", p.tokensPerSecond()));
        }
        h.append("<details><summary>Curve table</summary>").append(t.html()).append("</details>");
    }

    /** What the earlier sections summarise: hit rate over time, the stall histogram, expert heat and transitions. */
    private static void details(StringBuilder h, Report rep) {
        if (!rep.hitRateOverTime().isEmpty()) {
            List<Report.TimePoint> t = rep.hitRateOverTime();
            double[] xs = t.stream().mapToDouble(Report.TimePoint::seconds).toArray();
            SvgChart chart = SvgChart.overRange("Hit rate over time",
                    SvgChart.Axis.upTo("time into the recording (s)", xs[xs.length - 1], "%.2f s"),
                    SvgChart.Axis.share("resident when routed"));
            chart.line(xs, new SvgChart.Series("resident", RESIDENT, values(t, Report.TimePoint::hitRate)), true);
            h.append("<h2>Over time</h2>");
            figure(h, "Hit rate over time", "Share of the accesses in each twentieth of the recording that found the"
                    + " expert resident.", chart);
        }
        if (rep.stallHistogram().stream().anyMatch(b -> b.count() > 0)) {
            h.append("<h2>Stall histogram</h2><p>Waits for expert loads, by how long each wait took.</p>"
                    + "<table class=\"hist\"><thead><tr><th scope=\"col\">wait</th><th scope=\"col\">count</th>"
                    + "<th scope=\"col\">total (ms)</th><th scope=\"col\"></th></tr></thead>");
            long max = rep.stallHistogram().stream().mapToLong(Report.HistogramBin::count).max().orElse(1);
            for (Report.HistogramBin b : rep.stallHistogram()) {
                h.append(fmt("<tr><th scope=\"row\">%s</th><td>%d</td><td>%.2f</td><td style=\"text-align:left\">"
                        + "<div style=\"background:%s;height:10px;width:%dpx\"></div></td></tr>",
                        Double.isInfinite(b.toMicros()) ? "≥ " + micros(b.fromMicros())
                                : micros(b.fromMicros()) + " – " + micros(b.toMicros()),
                        b.count(), b.totalMs(), ON_DEMAND, (int) (300 * b.count() / Math.max(1, max))));
            }
            h.append("</table>");
        }
        heat(h, rep.heat());
        if (!rep.transitions().isEmpty()) {
            HtmlTable t = new HtmlTable("transitions", null).head("layers", "mutual information (bits)", "strongest pair",
                    "lift");
            for (Report.Transition tr : rep.transitions()) {
                t.row(tr.from() + " → " + (tr.from() + 1), fmt("%.3f", tr.mutualInformationBits()),
                        tr.strongestFrom() < 0 ? "–" : tr.strongestFrom() + " → " + tr.strongestTo(),
                        Double.isNaN(tr.lift()) ? "–" : fmt("%.1f", tr.lift()));
            }
            h.append("<h2>Layer-to-layer transitions</h2><p>How much an expert chosen at one layer says about the next"
                    + " layer's choice, and the pair that goes together most (lift: how many times likelier than chance;"
                    + " pairs seen at least 5 times).</p>").append(t.html());
        }
    }

    private static String micros(double us) {
        return us >= 1000 ? fmt("%.0f ms", us / 1000) : fmt("%.0f µs", us);
    }

    private static void heat(StringBuilder h, int[][] heat) {
        h.append("<h2>Expert heat</h2><p>Share of each layer's routing choices taken by each expert, in percent (darker"
                + " is hotter).</p><div class=\"scroll\"><table class=\"heat\"><thead><tr><th scope=\"col\">layer</th>");
        int experts = heat.length == 0 ? 0 : heat[0].length;
        for (int e = 0; e < experts; e++) {
            h.append("<th scope=\"col\">").append(e).append("</th>");
        }
        h.append("</tr></thead>");
        for (int l = 0; l < heat.length; l++) {
            long sum = 0;
            int max = 1;
            for (int v : heat[l]) {
                sum += v;
                max = Math.max(max, v);
            }
            h.append("<tr><th scope=\"row\">").append(l).append("</th>");
            for (int e = 0; e < experts; e++) {
                double share = sum == 0 ? 0 : heat[l][e] / (double) sum;
                int shade = 255 - (int) (200.0 * heat[l][e] / max);
                h.append(fmt("<td style=\"background:rgb(255,%d,%d)\" title=\"%d choices\">%.0f</td>",
                        shade, shade, heat[l][e], 100 * share));
            }
            h.append("</tr>");
        }
        h.append("</table></div>");
    }

    private static void figure(StringBuilder h, String caption, String explanation, SvgChart chart) {
        h.append("<figure><figcaption>").append(Html.esc(caption)).append("</figcaption><p>").append(Html.esc(explanation))
                .append("</p>").append(chart.svg()).append("</figure>");
    }

    private static <T> double[] values(List<T> rows, ToDoubleFunction<T> f) {
        return rows.stream().mapToDouble(f).toArray();
    }

    private static String fmt(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }
}
