package moed.tools.analyze;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.IntStream;
import moed.cache.AccessTrace;
import moed.cache.TraceReplay;
import moed.jfr.Events.ExpertAccess;
import moed.jfr.Events.ExpertLoad;
import moed.jfr.Events.Prefetch;
import moed.jfr.Events.TokenStep;
import moed.jfr.read.EventSource;
import moed.jfr.read.EventVisitor;
import moed.jfr.read.MoedRecording;
import org.agrona.collections.Int2ObjectHashMap;

/**
 * Turns a recording into a {@link Report} in two streaming passes, so a recording of any size is read in bounded
 * memory: the first pass learns the set-up and the steps (one small entry per forward step), the second
 * aggregates everything else as it goes. Per-step state (the tokens of one step, pending predictions) is dropped
 * when the step ends. The one thing that grows with the recording is the access trace for the miss-ratio curves
 * (4 bytes per access), capped at {@link #MAX_TRACE} accesses.
 *
 * <p>The only assumption is the backing bandwidth used to price misses (measured from the recorded loads unless
 * given).
 */
public final class RecordingAnalysis {
    /** 16 M accesses (64 MiB of trace); beyond it the curves describe the first part of the recording. */
    static final int MAX_TRACE = 16 << 20;
    /** Predictions are made at most this many layers ahead ({@code --lookahead} 1 or 2). */
    private static final int MAX_DISTANCE = 2;

    /** What the analysis is asked for; NaN targets mean "not given". */
    public record Options(double backingGbps, double targetHitRate, double targetTokensPerSecond) {
        public static final Options DEFAULTS = new Options(Double.NaN, 0.9, Double.NaN);
    }

    private final Options o;
    private final List<String> notes = new ArrayList<>();
    private MoedRecording.Session session;
    // The model's shape (pass 1): the session's, or, without one, what the routing and loads show.
    private int layers;
    private int experts;
    private int k;
    private long expertBytes;
    /** The forward steps, in time order (pass 1). */
    private final List<StepSpan> steps = new ArrayList<>();
    private long endTime;
    /** Prompt rows that serving steps carried alongside decode rows (counted as prompt tokens, timed as decode). */
    private long mixedPromptTokens;

    /** One forward step: when it began, how long it took, its id, its {@link TokenStep} phase, its token rows. */
    private record StepSpan(long start, long nanos, long id, int phase, int tokens) {
        boolean decode() {
            return phase == TokenStep.DECODE;
        }
    }

    private RecordingAnalysis(Options o) {
        this.o = o;
    }

    public static Report analyze(EventSource source, Options options) throws IOException {
        RecordingAnalysis a = new RecordingAnalysis(options);
        a.firstPass(source);
        return a.secondPass(source);
    }

    /** Pass 1: the session, the steps, and the model's shape as far as the routing and the loads show it. */
    private final class FirstPass implements EventVisitor {
        /** One more than the highest layer routed. */
        int routedLayers;
        /** One more than the highest expert chosen. */
        int routedExperts;
        /** The most experts chosen in one decision. */
        int routedK;
        long decisions;
        long largestLoad;

        @Override
        public void session(MoedRecording.Session s) {
            session = s;
        }

        @Override
        public void decision(long time, long request, long step, int position, int layer, int[] ex, float[] w, int kk,
                             int rerouted) {
            routedLayers = Math.max(routedLayers, layer + 1);
            routedK = Math.max(routedK, kk);
            for (int i = 0; i < kk; i++) {
                routedExperts = Math.max(routedExperts, ex[i] + 1);
            }
            decisions++;
            endTime = Math.max(endTime, time);
        }

        @Override
        public void load(long time, int layer, int expert, long bytes, long nanos, int reason, String tier) {
            largestLoad = Math.max(largestLoad, bytes);
        }

        @Override
        public void access(long time, int layer, int expert, int outcome, long waitNanos) {
            endTime = Math.max(endTime, time);
        }

        @Override
        public void step(long time, long request, long step, int phase, int tokens, int promptTokens, long nanos) {
            mixedPromptTokens += promptTokens;
            steps.add(new StepSpan(time, nanos, step, phase, tokens));
            endTime = Math.max(endTime, time + nanos);
        }
    }

    private void firstPass(EventSource source) throws IOException {
        FirstPass p = new FirstPass();
        source.scan(p);
        if (p.decisions == 0 && steps.isEmpty()) {
            throw new IllegalArgumentException("the recording holds no moed events (no routing, no steps): record one with"
                    + " 'moed run --jfr FILE ...'");
        }
        layers = session != null ? session.layers() : p.routedLayers;
        experts = session != null ? session.experts() : p.routedExperts;
        k = session != null ? session.expertsUsed() : p.routedK;
        expertBytes = session != null && session.expertBytes() > 0 ? session.expertBytes() : p.largestLoad;
        // Stable: steps that began at the same time keep the order in which they were read.
        steps.sort(Comparator.comparingLong(StepSpan::start));
    }

    /** The step whose time span holds {@code time}, or null. */
    private StepSpan stepAt(long time) {
        int lo = 0;
        int hi = steps.size() - 1;
        int found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (steps.get(mid).start() <= time) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        if (found < 0) {
            return null;
        }
        StepSpan s = steps.get(found);
        return time <= s.start() + s.nanos() ? s : null;
    }

    /** Step {@code id} (steps are numbered in time order), or null if it was not recorded. */
    private StepSpan stepById(long id) {
        int lo = 0;
        int hi = steps.size() - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            long v = steps.get(mid).id();
            if (v == id) {
                return steps.get(mid);
            } else if (v < id) {
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return null;
    }

    /** Predictions for one layer at one distance, against the router's choices for the same tokens. */
    private static final class PredictionTally {
        long predictions;
        /** Predicted experts that the router chose. */
        long right;
        /** Experts the router chose: recall is right / chosen. */
        long chosen;
        /** Experts predicted: precision is right / predicted. */
        long predicted;

        void add(PredictionTally t) {
            predictions += t.predictions;
            right += t.right;
            chosen += t.chosen;
            predicted += t.predicted;
        }
    }

    /** Everything pass 2 accumulates. */
    private final class Accumulator implements EventVisitor {
        final boolean decodeBasis;
        final long[] outcome = new long[ExpertAccess.OUTCOMES];
        final long[][] layerOutcome = new long[layers][ExpertAccess.OUTCOMES];
        final long[] layerWait = new long[layers];
        long basisWait;
        long loads;
        long loadBytes;
        long loadNanos;
        long demandPrefetchBytes;
        final long[] pf = new long[Prefetch.ACTIONS];
        final long[][] layerPf = new long[layers][Prefetch.ACTIONS];
        long evictions;
        long requests;
        final int[][] heat = new int[layers][experts];
        // hit rate over time
        final int buckets = 20;
        final long[] bucketN = new long[buckets];
        final long[] bucketHit = new long[buckets];
        // stall histogram (micros)
        final double[] edges = {0, 10, 100, 1_000, 10_000, 100_000, Double.POSITIVE_INFINITY};
        final long[] histCount = new long[edges.length - 1];
        final double[] histMs = new double[edges.length - 1];
        // transitions: co-occurrence counts of consecutive layers' experts
        final long[][][] pair = new long[Math.max(0, layers - 1)][experts][experts];
        // per step: each token's experts per layer (by position), flushed into pair counts when the step ends
        long currentStep = Long.MIN_VALUE;
        final Int2ObjectHashMap<int[][]> stepTokens = new Int2ObjectHashMap<>();
        final int[] decisionsAtLayer = new int[layers];
        // The current step's predictions not yet met by a decision: per layer, token -> per distance the experts.
        final List<Int2ObjectHashMap<int[][]>> pending = new ArrayList<>();
        final PredictionTally[][] pred = new PredictionTally[layers][MAX_DISTANCE + 1]; // [layer][distance]
        // the cache's view of the accesses, for the miss-ratio curves
        final AccessTrace trace = new AccessTrace(MAX_TRACE);
        long groupStep = Long.MIN_VALUE;
        int groupLayer = -1;
        long decisions;
        long reroutedExperts;
        long reroutedDecisions;

        Accumulator(boolean decodeBasis) {
            this.decodeBasis = decodeBasis;
            for (int l = 0; l < layers; l++) {
                pending.add(new Int2ObjectHashMap<>());
                for (int d = 0; d <= MAX_DISTANCE; d++) {
                    pred[l][d] = new PredictionTally();
                }
            }
        }

        boolean inBasis(long time) {
            StepSpan s = stepAt(time);
            return s == null ? !decodeBasis : s.decode() == decodeBasis;
        }

        @Override
        public void access(long time, int layer, int expert, int out, long waitNanos) {
            if (out < 0 || out >= ExpertAccess.OUTCOMES || layer < 0 || layer >= layers) {
                return;
            }
            outcome[out]++;
            layerOutcome[layer][out]++;
            if (inBasis(time)) {
                basisWait += waitNanos;
                layerWait[layer] += waitNanos;
            }
            int b = (int) Math.max(0, Math.min(buckets - 1, endTime <= 0 ? 0 : time * buckets / (endTime + 1)));
            bucketN[b]++;
            if (out == ExpertAccess.HIT) {
                bucketHit[b]++;
            }
            if (waitNanos > 0) {
                double us = waitNanos / 1e3;
                for (int i = 0; i < histCount.length; i++) {
                    if (us < edges[i + 1]) {
                        histCount[i]++;
                        histMs[i] += waitNanos / 1e6;
                        break;
                    }
                }
            }
        }

        @Override
        public void load(long time, int layer, int expert, long bytes, long nanos, int reason, String tier) {
            loads++;
            loadBytes += bytes;
            loadNanos += nanos;
            if (reason != ExpertLoad.WARM) {
                demandPrefetchBytes += bytes;
            }
        }

        @Override
        public void prefetch(long time, int layer, int expert, int action) {
            if (action >= 0 && action < Prefetch.ACTIONS) {
                pf[action]++;
                if (layer >= 0 && layer < layers) {
                    layerPf[layer][action]++;
                }
            }
        }

        @Override
        public void eviction(long time, int layer, int expert) {
            evictions++;
        }

        @Override
        public void request(long time, long request, int promptTokens, int generatedTokens, String stopReason, long nanos) {
            requests++;
        }

        @Override
        public void prediction(long time, long step, int token, int layer, int distance, int[] ex, int n) {
            if (step != currentStep) {
                endStep(step);
            }
            if (layer < 0 || layer >= layers || distance < 0 || distance > MAX_DISTANCE || token < 0) {
                return;
            }
            int[][] byDistance = pending.get(layer).computeIfAbsent(token, x -> new int[MAX_DISTANCE + 1][]);
            byDistance[distance] = Arrays.copyOf(ex, n);
        }

        @Override
        public void decision(long time, long request, long step, int position, int layer, int[] ex, float[] w, int kk,
                             int rerouted) {
            if (layer < 0 || layer >= layers) {
                return;
            }
            decisions++;
            if (rerouted > 0) {
                reroutedExperts += rerouted;
                reroutedDecisions++;
            }
            if (step != currentStep) {
                endStep(step);
            }
            for (int i = 0; i < kk; i++) {
                if (ex[i] < experts) {
                    heat[layer][ex[i]]++;
                }
            }
            // Token i of the step is the i-th decision at this layer (positions come in order).
            int token = decisionsAtLayer[layer]++;
            int[][] p = pending.get(layer).remove(token);
            if (p != null) {
                for (int d = 0; d <= MAX_DISTANCE; d++) {
                    if (p[d] == null) {
                        continue;
                    }
                    int right = 0;
                    for (int e : p[d]) {
                        for (int i = 0; i < kk; i++) {
                            if (ex[i] == e) {
                                right++;
                                break;
                            }
                        }
                    }
                    PredictionTally t = pred[layer][d];
                    t.predictions++;
                    t.right += right;
                    t.chosen += kk;
                    t.predicted += p[d].length;
                }
            }
            // Rows, not positions, name a step's tokens: in a batched step two sequences may share a position.
            int[][] tok = stepTokens.computeIfAbsent(token, x -> new int[layers][]);
            tok[layer] = Arrays.copyOf(ex, kk);
            trace(step, layer, ex, kk);
        }

        /** The cache's view: per step and layer each chosen expert once, in order of first choice. */
        private void trace(long step, int layer, int[] ex, int kk) {
            if (step != groupStep || layer != groupLayer) {
                groupStep = step;
                groupLayer = layer;
                trace.newGroup();
            }
            StepSpan s = stepById(step);
            boolean basis = s == null || s.decode() == decodeBasis;
            for (int j = 0; j < kk; j++) {
                trace.add(layer * experts + ex[j], basis);
            }
        }

        /** A new step begins: its predecessor's tokens go into the transition counts. */
        void endStep(long next) {
            for (int[][] t : stepTokens.values()) {
                for (int l = 0; l + 1 < layers; l++) {
                    if (t[l] == null || t[l + 1] == null) {
                        continue;
                    }
                    for (int i : t[l]) {
                        for (int j : t[l + 1]) {
                            if (i < experts && j < experts) {
                                pair[l][i][j]++;
                            }
                        }
                    }
                }
            }
            stepTokens.clear();
            pending.forEach(Int2ObjectHashMap::clear);
            Arrays.fill(decisionsAtLayer, 0);
            currentStep = next;
        }
    }

    private Report secondPass(EventSource source) throws IOException {
        long prefillTokens = 0;
        long prefillNanos = 0;
        long decodeTokens = 0;
        long decodeNanos = 0;
        for (StepSpan s : steps) {
            if (s.phase() == TokenStep.PREFILL) {
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
        Accumulator a = new Accumulator(decodeBasis);
        source.scan(a);
        a.endStep(Long.MIN_VALUE);

        long accesses = Arrays.stream(a.outcome).sum();
        double gbps;
        String gbpsSource;
        if (!Double.isNaN(o.backingGbps())) {
            gbps = o.backingGbps();
            gbpsSource = "given (--backing-gbps)";
        } else if (a.loadNanos > 0 && a.loads >= 4) {
            gbps = a.loadBytes / (double) a.loadNanos;
            gbpsSource = "measured over " + a.loads + " recorded loads (one loader thread's rate)";
        } else {
            gbps = 2.0;
            gbpsSource = "assumed 2 GB/s: the recording has no loads to measure; pass --backing-gbps";
        }
        long totalTokens = prefillTokens + mixedPromptTokens + decodeTokens;
        double computeMs = (basisNanos - a.basisWait) / 1e6 / basisTokens;
        var s = session;
        Report.Summary summary = new Report.Summary(
                new Report.Model(s != null ? s.model() : "?", layers, experts, k, expertBytes),
                s != null ? new Report.CacheSetup(s.budgetBytes(), s.slots(), s.backing(), s.policy(), s.predictor())
                        : new Report.CacheSetup(0, 0, "?", "?", "?"),
                new Report.Throughput((int) a.requests, prefillTokens + mixedPromptTokens, decodeTokens,
                        rate(prefillTokens, prefillNanos), rate(decodeTokens, decodeNanos)),
                new Report.Outcomes(accesses, ratio(a.outcome[ExpertAccess.HIT], accesses),
                        ratio(a.outcome[ExpertAccess.PREFETCH_HIT], accesses),
                        ratio(a.outcome[ExpertAccess.PREFETCH_LATE], accesses),
                        ratio(a.outcome[ExpertAccess.MISS] + a.outcome[ExpertAccess.IN_PLACE], accesses)),
                new Report.PerToken(a.basisWait / 1e6 / basisTokens, computeMs,
                        totalTokens == 0 ? 0 : a.demandPrefetchBytes / 1e6 / totalTokens),
                new Report.Traffic(a.loads, a.loadBytes, new Report.Prefetches(a.pf[Prefetch.ISSUED], a.pf[Prefetch.USED],
                        a.pf[Prefetch.WASTED], a.pf[Prefetch.CANCELLED]), a.evictions),
                new Report.Bandwidth(gbps, gbpsSource));
        if (accesses == 0) {
            notes.add("no expert cache in this run (experts read in place): hit rates are empty; the miss-ratio curves"
                    + " below still say what a cache would do with this workload");
        }
        List<Report.LayerRow> rows = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            long n = Arrays.stream(a.layerOutcome[l]).sum();
            int hot = 0;
            long layerSum = 0;
            for (int e = 0; e < experts; e++) {
                layerSum += a.heat[l][e];
                if (a.heat[l][e] > a.heat[l][hot]) {
                    hot = e;
                }
            }
            rows.add(new Report.LayerRow(l, n, ratio(a.layerOutcome[l][ExpertAccess.HIT], n),
                    ratio(a.layerOutcome[l][ExpertAccess.PREFETCH_HIT], n),
                    ratio(a.layerOutcome[l][ExpertAccess.PREFETCH_LATE], n), a.layerWait[l] / 1e6 / basisTokens,
                    a.layerPf[l][Prefetch.ISSUED], a.layerPf[l][Prefetch.USED],
                    a.layerPf[l][Prefetch.WASTED], hot, ratio(a.heat[l][hot], layerSum)));
        }
        List<Report.TimePoint> overTime = new ArrayList<>();
        if (accesses > 0) {
            for (int b = 0; b < a.buckets; b++) {
                overTime.add(new Report.TimePoint((b + 1) * (endTime + 1) / (double) a.buckets / 1e9, a.bucketN[b],
                        ratio(a.bucketHit[b], a.bucketN[b])));
            }
        }
        List<Report.HistogramBin> hist = new ArrayList<>();
        for (int b = 0; b < a.histCount.length; b++) {
            hist.add(new Report.HistogramBin(a.edges[b], a.edges[b + 1], a.histCount[b], a.histMs[b]));
        }
        long tokens = decodeBasis ? decodeTokens : prefillTokens;
        Report.Curves curves = curves(a, tokens, gbps, computeMs);
        notes.add(String.format("miss-ratio curves: the heat policy's prior is this recording's own expert heat (what"
                + " statistics of earlier runs of a similar workload give); stall estimates price each miss at %.2f GB/s"
                + " and assume no overlap with compute (%s)", gbps, gbpsSource));
        if (a.reroutedExperts > 0) {
            notes.add(String.format("cache-aware routing replaced %d non-resident experts by resident ones, in %d of %d"
                    + " router decisions (%.1f%%)", a.reroutedExperts, a.reroutedDecisions, a.decisions,
                    100.0 * a.reroutedDecisions / Math.max(1, a.decisions)));
        }
        if (a.trace.capped()) {
            notes.add("the recording has more than " + MAX_TRACE + " expert accesses: the curves replay the first "
                    + MAX_TRACE);
        }
        if (s != null && s.slots() > 0 && accesses > 0) {
            for (Report.CurvePoint p : curves.points()) {
                if (p.entries() == s.slots()) {
                    double replay = switch (s.policy()) {
                        case "lfu" -> p.lfu();
                        case "heat" -> p.heat();
                        default -> p.lru();
                    };
                    Report.Outcomes o = summary.outcomes();
                    notes.add(String.format("check: the live cache (%s, %d entries) found %.1f%% of the experts resident"
                            + " when routing chose them (+%.1f%% prefetched in time, %.1f%% prefetched late); replaying"
                            + " the recorded routing through %s at that size gives %.1f%%, through Belady's optimum %.1f%%"
                            + " (the replays have no prefetch, pins or warm start): live/Belady %.2f resident, %.2f with"
                            + " the prefetches in time", s.policy(), s.slots(), 100 * o.hitRate(), 100 * o.prefetchHitRate(),
                            100 * o.prefetchLateRate(), s.policy(), 100 * replay, 100 * p.belady(),
                            o.hitRate() / p.belady(), (o.hitRate() + o.prefetchHitRate()) / p.belady()));
                }
            }
        }
        return new Report(summary, rows, a.heat, overTime, hist, transitions(a), predictor(a), curves,
                recommend(curves), notes);
    }

    private List<Report.Transition> transitions(Accumulator a) {
        List<Report.Transition> out = new ArrayList<>();
        for (int l = 0; l + 1 < layers; l++) {
            long[][] c = a.pair[l];
            long total = 0;
            for (long[] row : c) {
                for (long v : row) {
                    total += v;
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

    private List<Report.PredictorRow> predictor(Accumulator a) {
        List<Report.PredictorRow> out = new ArrayList<>();
        for (int d = 0; d <= MAX_DISTANCE; d++) {
            PredictionTally all = new PredictionTally();
            for (int l = 0; l < layers; l++) {
                PredictionTally t = a.pred[l][d];
                if (t.predictions == 0) {
                    continue;
                }
                out.add(row(l, d, t));
                all.add(t);
            }
            if (all.predictions > 0) {
                out.add(row(-1, d, all));
            }
        }
        return out;
    }

    private static Report.PredictorRow row(int layer, int distance, PredictionTally t) {
        return new Report.PredictorRow(layer, distance, t.predictions, ratio(t.right, t.chosen), ratio(t.right, t.predicted));
    }

    private Report.Curves curves(Accumulator a, long tokens, double gbps, double computeMs) {
        // Trimmed in place, so the trace is held once while the curves replay it.
        a.trace.trim();
        int[] trace = a.trace.entries();
        boolean[] counted = a.trace.counted();
        int all = layers * experts;
        boolean[] present = new boolean[all];
        long distinct = 0;
        for (int x : trace) {
            if (!present[x]) {
                present[x] = true;
                distinct++;
            }
        }
        TreeSet<Integer> sizes = new TreeSet<>();
        sizes.add(Math.min(all, experts));
        for (int p = 5; p <= 100; p += 5) {
            sizes.add((int) Math.round(all * p / 100.0));
        }
        if (session != null && session.slots() > 0) {
            sizes.add(Math.min(all, session.slots()));
        }
        sizes.removeIf(c -> c < Math.max(1, k));
        double[] prior = new double[all];
        double heatTotal = Arrays.stream(a.heat).flatMapToInt(Arrays::stream).sum();
        for (int l = 0; l < layers; l++) {
            for (int e = 0; e < experts; e++) {
                prior[l * experts + e] = heatTotal == 0 ? 0 : a.heat[l][e] / heatTotal;
            }
        }
        int[] caps = sizes.stream().mapToInt(Integer::intValue).toArray();
        long countedAccesses = 0;
        for (boolean b : counted) {
            countedAccesses += b ? 1 : 0;
        }
        long basisAccesses = countedAccesses;
        Report.CurvePoint[] points = new Report.CurvePoint[caps.length];
        // One size at a time: each replay holds O(trace) state (Belady's next-use table), so memory stays bounded.
        IntStream.range(0, caps.length).forEach(i -> {
            int c = caps[i];
            // The same results as replaying the cache's own policy classes (tests check it), in O(log size) per
            // access, so long recordings stay quick.
            long[] lru = TraceReplay.lruHits(trace, c, counted);
            long[] lfu = TraceReplay.agedFrequencyHits(trace, c, all, null, counted);
            long[] ht = TraceReplay.agedFrequencyHits(trace, c, all, prior, counted);
            long[] bel = TraceReplay.beladyHits(trace, c, counted);
            long bestCounted = Math.max(lru[1], Math.max(lfu[1], ht[1]));
            double stallMs = tokens == 0 ? 0 : (basisAccesses - bestCounted) * (double) expertBytes / gbps / 1e6 / tokens;
            points[i] = new Report.CurvePoint(c, c * (double) expertBytes / (1L << 30), ratio(lru[0], trace.length),
                    ratio(lfu[0], trace.length), ratio(ht[0], trace.length), ratio(bel[0], trace.length), stallMs,
                    1000.0 / (computeMs + stallMs));
        });
        return new Report.Curves(trace.length, tokens, distinct, List.of(points));
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
                String why = byTps
                        ? String.format("%.1f tokens/s is out of reach (with every expert resident the estimate is %.1f)",
                                o.targetTokensPerSecond(), last.tokensPerSecond())
                        : String.format("the target is out of reach on this recording (with every expert resident the hit"
                                + " rate is %.1f%%: first uses always miss)", 100 * ceiling);
                return new Report.Recommendation(p.gib(), p.entries(), bestPolicy(p), best(p), p.tokensPerSecond(),
                        why + "; this is the smallest size within 1% of the best hit rate");
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
