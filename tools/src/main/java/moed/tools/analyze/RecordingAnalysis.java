package moed.tools.analyze;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.IntStream;
import moed.cache.EvictionPolicy;
import moed.cache.TraceReplay;
import moed.jfr.read.MoedRecording;
import moed.jfr.read.MoedRecording.Access;
import moed.jfr.read.MoedRecording.Decision;
import moed.jfr.read.MoedRecording.Load;
import moed.jfr.read.MoedRecording.PrefetchAction;
import moed.jfr.read.MoedRecording.Step;

/**
 * Turns a {@link MoedRecording} into a {@link Report}. Everything is derived from the recorded events; the only
 * assumption is the backing bandwidth used to price misses in the miss-ratio curves (measured from the recorded
 * loads unless given).
 */
public final class RecordingAnalysis {
    /** What the analysis is asked for; NaN targets mean "not given". */
    public record Options(double backingGbps, double targetHitRate, double targetTokensPerSecond) {
        public static final Options DEFAULTS = new Options(Double.NaN, 0.9, Double.NaN);
    }

    private final MoedRecording r;
    private final Options o;
    private final int layers;
    private final int experts;
    private final int k;
    private final long expertBytes;
    private final long[] stepStart;
    private final Step[] stepsByTime;
    private final List<String> notes = new ArrayList<>();

    private RecordingAnalysis(MoedRecording r, Options o) {
        this.r = r;
        this.o = o;
        int l = 0;
        int e = 0;
        int kk = 0;
        for (Decision d : r.decisions()) {
            l = Math.max(l, d.layer() + 1);
            kk = Math.max(kk, d.experts().length);
            for (int x : d.experts()) {
                e = Math.max(e, x + 1);
            }
        }
        var s = r.session();
        this.layers = s != null ? s.layers() : l;
        this.experts = s != null ? s.experts() : e;
        this.k = s != null ? s.expertsUsed() : kk;
        long eb = s != null ? s.expertBytes() : 0;
        if (eb == 0) {
            eb = r.loads().stream().mapToLong(Load::bytes).max().orElse(0);
        }
        this.expertBytes = eb;
        this.stepsByTime = r.steps().toArray(new Step[0]);
        this.stepStart = Arrays.stream(stepsByTime).mapToLong(Step::time).toArray();
    }

    public static Report analyze(MoedRecording recording, Options options) {
        if (recording.decisions().isEmpty() && recording.steps().isEmpty()) {
            throw new IllegalArgumentException("the recording holds no moed events: record with 'moed run --jfr FILE ...'");
        }
        return new RecordingAnalysis(recording, options).run();
    }

    private Report run() {
        long prefillTokens = 0;
        long prefillNanos = 0;
        long decodeTokens = 0;
        long decodeNanos = 0;
        for (Step s : r.steps()) {
            if (s.phase() == 0) {
                prefillTokens += s.tokens();
                prefillNanos += s.nanos();
            } else {
                decodeTokens += s.tokens();
                decodeNanos += s.nanos();
            }
        }
        // Per-token figures are per decode token (the user's tokens/s) unless the recording has no decode.
        boolean decodeBasis = decodeTokens > 0;
        long basisTokens = decodeBasis ? decodeTokens : Math.max(1, prefillTokens);
        long basisNanos = decodeBasis ? decodeNanos : prefillNanos;

        long[] outcome = new long[4];
        long[][] layerOutcome = new long[layers][4];
        long[] layerWait = new long[layers];
        long basisWait = 0;
        for (Access a : r.accesses()) {
            outcome[a.outcome()]++;
            if (a.layer() < layers) {
                layerOutcome[a.layer()][a.outcome()]++;
            }
            if (inBasis(a.time(), decodeBasis)) {
                basisWait += a.waitNanos();
                if (a.layer() < layers) {
                    layerWait[a.layer()] += a.waitNanos();
                }
            }
        }
        long accesses = Arrays.stream(outcome).sum();
        long loadBytes = 0;
        long loadNanos = 0;
        long demandPrefetchBytes = 0;
        for (Load l : r.loads()) {
            loadBytes += l.bytes();
            loadNanos += l.nanos();
            if (l.reason() != Load.WARM) {
                demandPrefetchBytes += l.bytes();
            }
        }
        double gbps;
        String gbpsSource;
        if (!Double.isNaN(o.backingGbps())) {
            gbps = o.backingGbps();
            gbpsSource = "given (--backing-gbps)";
        } else if (loadNanos > 0 && r.loads().size() >= 4) {
            gbps = loadBytes / (double) loadNanos;
            gbpsSource = "measured over " + r.loads().size() + " recorded loads (one loader thread's rate)";
        } else {
            gbps = 2.0;
            gbpsSource = "assumed 2 GB/s: the recording has no loads to measure; pass --backing-gbps";
        }
        long[] pf = new long[4];
        long[][] layerPf = new long[layers][4];
        for (PrefetchAction p : r.prefetches()) {
            pf[p.action()]++;
            if (p.layer() < layers) {
                layerPf[p.layer()][p.action()]++;
            }
        }
        int[][] heat = heat();
        long totalTokens = prefillTokens + decodeTokens;
        double computeMs = basisTokens == 0 ? Double.NaN : (basisNanos - basisWait) / 1e6 / basisTokens;
        var s = r.session();
        Report.Summary summary = new Report.Summary(s != null ? s.model() : "?", layers, experts, k, expertBytes,
                s != null ? s.budgetBytes() : 0, s != null ? s.slots() : 0, s != null ? s.backing() : "?",
                s != null ? s.policy() : "?", s != null ? s.predictor() : "?", r.requests().size(), prefillTokens,
                decodeTokens, rate(prefillTokens, prefillNanos), rate(decodeTokens, decodeNanos), accesses,
                ratio(outcome[Access.HIT], accesses), ratio(outcome[Access.LATE_HIT], accesses),
                ratio(outcome[Access.MISS] + outcome[Access.IN_PLACE], accesses),
                accesses == 0 ? 0 : basisWait / 1e6 / basisTokens, computeMs,
                totalTokens == 0 ? 0 : demandPrefetchBytes / 1e6 / totalTokens, r.loads().size(), loadBytes,
                pf[PrefetchAction.ISSUED], pf[PrefetchAction.USED], pf[PrefetchAction.WASTED],
                pf[PrefetchAction.CANCELLED], r.evictions().size(), gbps, gbpsSource);
        if (accesses == 0) {
            notes.add("no expert cache in this run (experts read in place): hit rates are empty; the miss-ratio curves"
                    + " below still say what a cache would do with this workload");
        }

        List<Report.LayerRow> rows = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            long n = Arrays.stream(layerOutcome[l]).sum();
            int hot = 0;
            long layerSum = 0;
            for (int e = 0; e < experts; e++) {
                layerSum += heat[l][e];
                if (heat[l][e] > heat[l][hot]) {
                    hot = e;
                }
            }
            rows.add(new Report.LayerRow(l, n, ratio(layerOutcome[l][Access.HIT], n), ratio(layerOutcome[l][Access.LATE_HIT], n),
                    layerWait[l] / 1e6 / basisTokens, layerPf[l][PrefetchAction.ISSUED], layerPf[l][PrefetchAction.USED],
                    layerPf[l][PrefetchAction.WASTED], hot, ratio(heat[l][hot], layerSum)));
        }
        Report.Curves curves = curves(heat, decodeBasis, gbps);
        notes.add(String.format("miss-ratio curves: the heat policy's prior is this recording's own expert heat (what"
                + " statistics of earlier runs of a similar workload give); stall estimates price each miss at %.2f GB/s"
                + " and assume no overlap with compute (%s)", gbps, gbpsSource));
        Report.Recommendation rec = recommend(curves);
        if (s != null && s.slots() > 0 && accesses > 0) {
            for (Report.CurvePoint p : curves.points()) {
                if (p.entries() == s.slots()) {
                    double replay = switch (s.policy()) {
                        case "lfu" -> p.lfu();
                        case "heat" -> p.heat();
                        default -> p.lru();
                    };
                    notes.add(String.format("check: the live cache (%s, %d entries) hit %.1f%% (+%.1f%% late hits);"
                            + " replaying the recorded routing through %s at that size gives %.1f%% (the replay has no"
                            + " prefetch, pins or warm start)", s.policy(), s.slots(), 100 * summary.hitRate(),
                            100 * summary.lateHitRate(), s.policy(), 100 * replay));
                }
            }
        }
        return new Report(summary, rows, heat, hitRateOverTime(), stallHistogram(), transitions(), predictor(), curves,
                rec, notes);
    }

    private boolean inBasis(long time, boolean decodeBasis) {
        int i = stepAt(time);
        if (i < 0) {
            return !decodeBasis;
        }
        return (stepsByTime[i].phase() == 1) == decodeBasis;
    }

    /** The step whose time span holds {@code time}, or -1. */
    private int stepAt(long time) {
        int i = Arrays.binarySearch(stepStart, time);
        if (i < 0) {
            i = -i - 2;
        }
        if (i < 0 || i >= stepsByTime.length) {
            return -1;
        }
        Step s = stepsByTime[i];
        return time <= s.time() + s.nanos() ? i : -1;
    }

    private int[][] heat() {
        int[][] h = new int[layers][experts];
        for (Decision d : r.decisions()) {
            for (int e : d.experts()) {
                if (d.layer() < layers && e < experts) {
                    h[d.layer()][e]++;
                }
            }
        }
        return h;
    }

    private List<Report.TimePoint> hitRateOverTime() {
        List<Report.TimePoint> out = new ArrayList<>();
        if (r.accesses().isEmpty()) {
            return out;
        }
        long end = r.accesses().get(r.accesses().size() - 1).time() + 1;
        int buckets = (int) Math.min(20, r.accesses().size() / 20 + 1);
        long[] n = new long[buckets];
        long[] hit = new long[buckets];
        for (Access a : r.accesses()) {
            int b = (int) Math.min(buckets - 1, a.time() * buckets / end);
            n[b]++;
            if (a.outcome() == Access.HIT) {
                hit[b]++;
            }
        }
        for (int b = 0; b < buckets; b++) {
            out.add(new Report.TimePoint((b + 1) * end / (double) buckets / 1e9, n[b], ratio(hit[b], n[b])));
        }
        return out;
    }

    private List<Report.HistogramBin> stallHistogram() {
        double[] edges = {0, 10, 100, 1_000, 10_000, 100_000, Double.POSITIVE_INFINITY};
        long[] count = new long[edges.length - 1];
        double[] total = new double[edges.length - 1];
        for (Access a : r.accesses()) {
            if (a.waitNanos() <= 0) {
                continue;
            }
            double us = a.waitNanos() / 1e3;
            for (int b = 0; b < count.length; b++) {
                if (us < edges[b + 1]) {
                    count[b]++;
                    total[b] += a.waitNanos() / 1e6;
                    break;
                }
            }
        }
        List<Report.HistogramBin> out = new ArrayList<>();
        for (int b = 0; b < count.length; b++) {
            out.add(new Report.HistogramBin(edges[b], edges[b + 1], count[b], total[b]));
        }
        return out;
    }

    /** Decisions of each token (request, position), indexed by layer. */
    private Map<Long, int[][]> byToken() {
        Map<Long, int[][]> tokens = new HashMap<>();
        for (Decision d : r.decisions()) {
            if (d.layer() >= layers) {
                continue;
            }
            long key = d.request() << 32 | (d.position() & 0xFFFFFFFFL);
            tokens.computeIfAbsent(key, x -> new int[layers][])[d.layer()] = d.experts();
        }
        return tokens;
    }

    private List<Report.Transition> transitions() {
        List<Report.Transition> out = new ArrayList<>();
        if (layers < 2 || experts == 0) {
            return out;
        }
        Map<Long, int[][]> tokens = byToken();
        for (int l = 0; l + 1 < layers; l++) {
            long[][] c = new long[experts][experts];
            long total = 0;
            for (int[][] t : tokens.values()) {
                if (t[l] == null || t[l + 1] == null) {
                    continue;
                }
                for (int i : t[l]) {
                    for (int j : t[l + 1]) {
                        c[i][j]++;
                        total++;
                    }
                }
            }
            if (total == 0) {
                continue;
            }
            double[] pi = new double[experts];
            double[] pj = new double[experts];
            for (int i = 0; i < experts; i++) {
                for (int j = 0; j < experts; j++) {
                    pi[i] += c[i][j] / (double) total;
                    pj[j] += c[i][j] / (double) total;
                }
            }
            double mi = 0;
            int bi = -1;
            int bj = -1;
            double best = 0;
            for (int i = 0; i < experts; i++) {
                for (int j = 0; j < experts; j++) {
                    if (c[i][j] == 0) {
                        continue;
                    }
                    double p = c[i][j] / (double) total;
                    double lift = p / (pi[i] * pj[j]);
                    mi += p * Math.log(lift) / Math.log(2);
                    // Too few co-occurrences make any lift look strong: only pairs seen 5 times count.
                    if (c[i][j] >= 5 && lift > best) {
                        best = lift;
                        bi = i;
                        bj = j;
                    }
                }
            }
            out.add(new Report.Transition(l, mi, bi, bj, bi < 0 ? Double.NaN : best));
        }
        return out;
    }

    private List<Report.PredictorRow> predictor() {
        List<Report.PredictorRow> out = new ArrayList<>();
        if (r.predictions().isEmpty()) {
            return out;
        }
        // Router decisions of each (step, layer), by position: token i of the step is the i-th position.
        Map<Long, List<Decision>> byStepLayer = new HashMap<>();
        for (Decision d : r.decisions()) {
            byStepLayer.computeIfAbsent(d.step() * 4096 + d.layer(), x -> new ArrayList<>()).add(d);
        }
        byStepLayer.values().forEach(l -> l.sort((a, b) -> Integer.compare(a.position(), b.position())));
        int maxDistance = r.predictions().stream().mapToInt(MoedRecording.Prediction::distance).max().orElse(1);
        long[][][] acc = new long[layers][maxDistance + 1][4]; // predictions, intersect, actual, predicted
        for (MoedRecording.Prediction p : r.predictions()) {
            List<Decision> ds = byStepLayer.get(p.step() * 4096 + p.layer());
            if (ds == null || p.token() >= ds.size() || p.layer() >= layers) {
                continue;
            }
            int[] actual = ds.get(p.token()).experts();
            int hit = 0;
            for (int e : p.experts()) {
                for (int a : actual) {
                    if (a == e) {
                        hit++;
                        break;
                    }
                }
            }
            long[] a = acc[p.layer()][p.distance()];
            a[0]++;
            a[1] += hit;
            a[2] += actual.length;
            a[3] += p.experts().length;
        }
        for (int d = 1; d <= maxDistance; d++) {
            long[] all = new long[4];
            for (int l = 0; l < layers; l++) {
                long[] a = acc[l][d];
                if (a[0] == 0) {
                    continue;
                }
                out.add(new Report.PredictorRow(l, d, a[0], ratio(a[1], a[2]), ratio(a[1], a[3])));
                for (int i = 0; i < 4; i++) {
                    all[i] += a[i];
                }
            }
            if (all[0] > 0) {
                out.add(new Report.PredictorRow(-1, d, all[0], ratio(all[1], all[2]), ratio(all[1], all[3])));
            }
        }
        return out;
    }

    /**
     * The recorded routing as the sequence of expert accesses a cache sees: per step and layer, each chosen expert
     * once (prefill runs an expert once over all its tokens), in order of first choice.
     */
    private int[][] trace(boolean decodeBasis) {
        List<Decision> ds = r.decisions();
        int[] t = new int[ds.size() * Math.max(k, 1)];
        int[] basis = new int[t.length];
        int n = 0;
        int groupStart = 0;
        long groupStep = Long.MIN_VALUE;
        int groupLayer = -1;
        Map<Long, Boolean> stepIsBasis = new HashMap<>();
        for (Step s : r.steps()) {
            stepIsBasis.put(s.step(), (s.phase() == 1) == decodeBasis);
        }
        for (Decision d : ds) {
            if (d.step() != groupStep || d.layer() != groupLayer) {
                groupStep = d.step();
                groupLayer = d.layer();
                groupStart = n;
            }
            for (int e : d.experts()) {
                int entry = d.layer() * experts + e;
                boolean seen = false;
                for (int i = groupStart; i < n && !seen; i++) {
                    seen = t[i] == entry;
                }
                if (!seen) {
                    basis[n] = stepIsBasis.getOrDefault(d.step(), true) ? 1 : 0;
                    t[n++] = entry;
                }
            }
        }
        return new int[][] {Arrays.copyOf(t, n), Arrays.copyOf(basis, n)};
    }

    private Report.Curves curves(int[][] heat, boolean decodeBasis, double gbps) {
        int[][] tb = trace(decodeBasis);
        int[] trace = tb[0];
        boolean[] counted = new boolean[trace.length];
        for (int i = 0; i < trace.length; i++) {
            counted[i] = tb[1][i] == 1;
        }
        int all = layers * experts;
        long distinct = Arrays.stream(trace).distinct().count();
        long tokens = r.steps().stream().filter(s -> (s.phase() == 1) == decodeBasis).mapToLong(Step::tokens).sum();
        if (tokens == 0) {
            tokens = byToken().size();
        }
        TreeSet<Integer> sizes = new TreeSet<>();
        sizes.add(Math.min(all, experts));
        for (int p = 5; p <= 100; p += 5) {
            sizes.add((int) Math.round(all * p / 100.0));
        }
        if (r.session() != null && r.session().slots() > 0) {
            sizes.add(Math.min(all, r.session().slots()));
        }
        sizes.removeIf(c -> c < Math.max(1, k));
        double[] prior = new double[all];
        double heatTotal = Arrays.stream(heat).flatMapToInt(Arrays::stream).sum();
        for (int l = 0; l < layers; l++) {
            for (int e = 0; e < experts; e++) {
                prior[l * experts + e] = heatTotal == 0 ? 0 : heat[l][e] / heatTotal;
            }
        }
        int[] caps = sizes.stream().mapToInt(Integer::intValue).toArray();
        long countedAccesses = IntStream.range(0, counted.length).filter(i -> counted[i]).count();
        double computeMs = computeMsPerToken();
        long toks = tokens;
        Report.CurvePoint[] points = new Report.CurvePoint[caps.length];
        IntStream.range(0, caps.length).parallel().forEach(i -> {
            int c = caps[i];
            long[] lru = TraceReplay.policyHits(trace, c, EvictionPolicy.create("lru", all, null), counted);
            long[] lfu = TraceReplay.policyHits(trace, c, EvictionPolicy.create("lfu", all, null), counted);
            long[] ht = TraceReplay.policyHits(trace, c, EvictionPolicy.create("heat", all, prior), counted);
            long[] bel = TraceReplay.beladyHits(trace, c, counted);
            long bestCounted = Math.max(lru[1], Math.max(lfu[1], ht[1]));
            double stallMs = toks == 0 ? 0 : (countedAccesses - bestCounted) * (double) expertBytes / gbps / 1e6 / toks;
            points[i] = new Report.CurvePoint(c, c * (double) expertBytes / (1L << 30), ratio(lru[0], trace.length),
                    ratio(lfu[0], trace.length), ratio(ht[0], trace.length), ratio(bel[0], trace.length), stallMs,
                    1000.0 / (computeMs + stallMs));
        });
        return new Report.Curves(trace.length, tokens, distinct, List.of(points));
    }

    /** Time per token without waiting for loads: the step time minus the recorded waits (decode if any). */
    private double computeMsPerToken() {
        boolean decode = r.steps().stream().anyMatch(s -> s.phase() == 1);
        long tokens = 0;
        long nanos = 0;
        for (Step s : r.steps()) {
            if ((s.phase() == 1) == decode) {
                tokens += s.tokens();
                nanos += s.nanos();
            }
        }
        long wait = 0;
        for (Access a : r.accesses()) {
            if (inBasis(a.time(), decode)) {
                wait += a.waitNanos();
            }
        }
        return tokens == 0 ? 0 : (nanos - wait) / 1e6 / tokens;
    }

    private Report.Recommendation recommend(Report.Curves curves) {
        List<Report.CurvePoint> pts = curves.points();
        if (pts.isEmpty()) {
            return null;
        }
        boolean byTps = !Double.isNaN(o.targetTokensPerSecond());
        for (Report.CurvePoint p : pts) {
            double hit = best(p);
            boolean ok = byTps ? p.tokensPerSecond() >= o.targetTokensPerSecond() : hit >= o.targetHitRate();
            if (ok) {
                return new Report.Recommendation(p.gib(), p.entries(), bestPolicy(p), hit, p.tokensPerSecond(),
                        byTps ? String.format("smallest size whose estimated decode speed reaches %.1f tokens/s", o.targetTokensPerSecond())
                                : String.format("smallest size whose best policy reaches a %.0f%% hit rate", 100 * o.targetHitRate()));
            }
        }
        // Unreachable: a short recording's first-use misses cap the hit rate even with every expert resident.
        Report.CurvePoint last = pts.get(pts.size() - 1);
        double ceiling = best(last);
        for (Report.CurvePoint p : pts) {
            if (best(p) >= 0.99 * ceiling) {
                return new Report.Recommendation(p.gib(), p.entries(), bestPolicy(p), best(p), p.tokensPerSecond(),
                        String.format("the target is out of reach on this recording (with every expert resident the hit"
                                + " rate is %.1f%%: first uses always miss); this is the smallest size within 1%% of that",
                                100 * ceiling));
            }
        }
        return null;
    }

    private static double best(Report.CurvePoint p) {
        return Math.max(p.lru(), Math.max(p.lfu(), p.heat()));
    }

    private static String bestPolicy(Report.CurvePoint p) {
        double b = best(p);
        return b == p.lfu() ? "lfu" : b == p.heat() ? "heat" : "lru";
    }

    private static double ratio(long a, long b) {
        return b == 0 ? Double.NaN : a / (double) b;
    }

    private static double rate(long tokens, long nanos) {
        return nanos == 0 ? Double.NaN : tokens * 1e9 / nanos;
    }
}
