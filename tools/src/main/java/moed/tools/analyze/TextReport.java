package moed.tools.analyze;

import java.io.PrintStream;

/** The analysis as text for a terminal: summary first, then per-layer tables, curves and the recommendation. */
public final class TextReport {
    private TextReport() {
    }

    public static void print(Report rep, PrintStream out) {
        Report.Summary s = rep.summary();
        Report.Model m = s.model();
        out.printf("moed analyze: %s, %d layers x %d experts (top-%d), %.3f MiB per expert%n", m.name(), m.layers(),
                m.experts(), m.expertsUsed(), m.expertBytes() / 1048576.0);
        Report.CacheSetup c = s.cache();
        out.printf("cache: %s budget, %d slots, backing %s, policy %s, predictor %s%n",
                c.budgetBytes() == 0 ? "no" : String.format("%.2f MiB", c.budgetBytes() / 1048576.0), c.slots(),
                c.backing(), c.policy(), c.predictor());
        Report.Throughput tp = s.throughput();
        out.printf("requests %d | prompt tokens %d (%.1f tok/s) | decode tokens %d (%.1f tok/s)%n", tp.requests(),
                tp.promptTokens(), tp.prefillTokensPerSecond(), tp.decodeTokens(), tp.decodeTokensPerSecond());
        Report.Outcomes o = s.outcomes();
        if (o.accesses() > 0) {
            out.printf("expert accesses %d: resident when routed %s, prefetched in time %s, prefetched late %s,"
                    + " loaded on demand %s%n", o.accesses(), pct(o.hitRate()), pct(o.prefetchHitRate()),
                    pct(o.prefetchLateRate()), pct(o.missRate()));
            Report.PerToken p = s.perToken();
            Report.Traffic tr = s.traffic();
            out.printf("per token: stall %.2f ms, compute %.2f ms, loaded %.2f MB | loads %d (%.1f MB) at %.2f GB/s (%s)%n",
                    p.stallMsPerToken(), p.computeMsPerToken(), p.loadedMbPerToken(), tr.loads(), tr.bytesLoaded() / 1e6,
                    s.bandwidth().backingGbps(), s.bandwidth().backingGbpsSource());
            Report.Prefetches pf = tr.prefetches();
            out.printf("prefetches: issued %d, used %d, wasted %d, cancelled %d | evictions %d%n", pf.issued(),
                    pf.used(), pf.wasted(), pf.cancelled(), tr.evictions());
        }
        out.println();
        out.println("layer  accesses  hit     pf hit  pf late stall ms/tok  prefetch used/issued  hottest expert (share)");
        for (Report.LayerRow l : rep.layers()) {
            out.printf("%5d  %8d  %-6s  %-6s  %-6s  %12.3f  %9d/%-9d  %5d (%s)%n", l.layer(), l.accesses(),
                    pct(l.hitRate()), pct(l.prefetchHitRate()), pct(l.prefetchLateRate()), l.stallMsPerToken(), l.prefetchesUsed(), l.prefetchesIssued(),
                    l.hottestExpert(), pct(l.hottestShare()));
        }
        if (!rep.predictor().isEmpty()) {
            out.println();
            out.println("predictor (predicted set vs the router's choice)");
            out.println("layer  distance  predictions  recall  precision");
            for (Report.PredictorRow p : rep.predictor()) {
                out.printf("%5s  %8d  %11d  %-6s  %s%n", p.layer() < 0 ? "all" : Integer.toString(p.layer()), p.distance(),
                        p.predictions(), pct(p.recall()), pct(p.precision()));
            }
        }
        if (!rep.transitions().isEmpty()) {
            out.println();
            out.println("layer-to-layer transitions: mutual information (bits) between consecutive layers' choices");
            for (Report.Transition t : rep.transitions()) {
                out.printf("  %d -> %d: %.3f bits%s%n", t.from(), t.from() + 1, t.mutualInformationBits(),
                        t.strongestFrom() < 0 ? "" : String.format("; strongest pair %d -> %d (lift %.1f)",
                                t.strongestFrom(), t.strongestTo(), t.lift()));
            }
        }
        boolean anyStall = rep.stallHistogram().stream().anyMatch(b -> b.count() > 0);
        if (anyStall) {
            out.println();
            out.println("stall histogram (waits for loads)");
            for (Report.HistogramBin b : rep.stallHistogram()) {
                out.printf("  %-16s %7d waits  %9.2f ms%n", range(b), b.count(), b.totalMs());
            }
        }
        Report.Curves curves = rep.curves();
        out.println();
        out.printf("miss-ratio curves: hit rate replaying %d recorded accesses (%d tokens, %d distinct experts)%n",
                curves.traceLength(), curves.tokens(), curves.distinctExperts());
        out.println("entries    GiB      lru     lfu     heat    belady  est. stall ms/tok  est. tok/s");
        for (Report.CurvePoint p : curves.points()) {
            out.printf("%7d  %7.3f  %-6s  %-6s  %-6s  %-6s  %17.2f  %10.1f%n", p.entries(), p.gib(), pct(p.lru()),
                    pct(p.lfu()), pct(p.heat()), pct(p.belady()), p.stallMsPerToken(), p.tokensPerSecond());
        }
        Report.Recommendation r = rep.recommendation();
        if (r != null) {
            out.println();
            out.printf("recommended: --cache-gb %.3f (--cache-mb %.0f) --cache-policy %s: %d experts, hit rate %s,"
                    + " est. %.1f tok/s; %s%n", r.cacheGib(), Math.ceil(r.cacheGib() * 1024), r.policy(), r.entries(),
                    pct(r.hitRate()), r.tokensPerSecond(), r.reason());
        }
        for (String n : rep.notes()) {
            out.println("note: " + n);
        }
    }

    private static String range(Report.HistogramBin b) {
        return Double.isInfinite(b.toMicros()) ? String.format(">= %s", micros(b.fromMicros()))
                : String.format("%s-%s", micros(b.fromMicros()), micros(b.toMicros()));
    }

    private static String micros(double us) {
        return us >= 1000 ? String.format("%.0fms", us / 1000) : String.format("%.0fus", us);
    }

    static String pct(double v) {
        return Double.isNaN(v) ? "-" : String.format("%.1f%%", 100 * v);
    }
}
