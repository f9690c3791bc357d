package moed.runtime;

import java.io.IOException;
import java.nio.file.Path;
import moed.cache.BackingStore;
import moed.cache.CacheCounters;
import moed.cache.DirectBackingStore;
import moed.cache.EvictionPolicy;
import moed.cache.ExpertCache;
import moed.cache.ExpertSource;
import moed.cache.ExpertStatistics;
import moed.cache.MappedBackingStore;
import moed.cache.MappedExpertSource;
import moed.cache.StatisticsStore;
import moed.predictor.CombinedPredictor;
import moed.predictor.ExpertPredictor;
import moed.predictor.GateLookaheadPredictor;
import moed.predictor.PrefetchPlanner;
import moed.predictor.PriorPredictor;
import moed.predictor.RouterWeights;
import moed.runtime.model.LayerHook;
import moed.kernels.KernelWidth;
import moed.kernels.MatMat;
import moed.kernels.ParallelExecutor;
import moed.runtime.gguf.GgufFile;
import moed.runtime.model.InferenceState;
import moed.runtime.model.Model;
import moed.runtime.model.RouterObserver;
import moed.runtime.model.Transformer;
import moed.runtime.sampling.Sampler;
import moed.runtime.sampling.SamplerConfig;
import moed.runtime.tokenizer.StreamingDecoder;
import moed.runtime.tokenizer.Tokenizer;

/**
 * A loaded model ready to generate: the mapped file, tokenizer, compute threads and forward pass. One
 * sequence at a time per Engine (the daemon's scheduler batches sequences on top of this).
 */
public final class Engine implements AutoCloseable {
    /** Streamed output: each token as it is chosen, with the text it completes (possibly empty). */
    @FunctionalInterface
    public interface TokenListener {
        /** Return false to stop generation. */
        boolean onToken(int id, String text);
    }

    private final GgufFile file;
    private final Model model;
    private final Tokenizer tokenizer;
    /** The model's chat template, parsed on first use (null until then). */
    private moed.runtime.chat.ChatTemplate chatTemplate;
    private final ParallelExecutor executor;
    private final ExpertSource experts;
    private final Transformer transformer;
    private final int contextLength;
    private final int batch;
    private final ExpertCache cache;
    private final ExpertStatistics statistics;
    private final StatisticsStore store;
    private RouterObserver userObserver;
    private PrefetchPlanner planner;
    private moed.jfr.Recorder recorder;
    private long requestId;
    private boolean[] pinnedExpertLayers;
    private String plannerName;
    private int plannerLookahead;
    private int plannerMargin;
    private long stepId;
    private String predictorName = "none";
    private final java.util.List<String> startupReport = new java.util.ArrayList<>();
    private long lastWarning;

    private Engine(GgufFile file, Model model, Tokenizer tokenizer, ParallelExecutor executor, ExpertSource experts,
                   int contextLength, int batch, ExpertCache cache, ExpertStatistics statistics, StatisticsStore store) {
        this.file = file;
        this.model = model;
        this.tokenizer = tokenizer;
        this.executor = executor;
        this.experts = experts;
        this.transformer = new Transformer(model, experts, new MatMat(executor));
        this.contextLength = contextLength;
        this.batch = batch;
        this.cache = cache;
        this.statistics = statistics;
        this.store = store;
        installObserver(0);
    }

    /**
     * Opens a model. {@code contextLength} 0 means the model's own (capped at 4096 to bound the KV cache);
     * {@code batch} is the number of prompt tokens a prefill step runs together.
     */
    public static Engine open(Path path, int threads, int contextLength, int batch) throws IOException {
        return open(path, threads, contextLength, batch, CacheOptions.NONE);
    }

    /** Opens a model with its experts served as {@code cacheOptions} says (in place, or through a bounded cache). */
    public static Engine open(Path path, int threads, int contextLength, int batch, CacheOptions cacheOptions) throws IOException {
        return open(path, threads, contextLength, batch, cacheOptions, java.util.List.of());
    }

    /**
     * As above, with llama.cpp-style tensor overrides {@code REGEX=resident|backing}: expert tensors matched by a
     * {@code resident} rule stay pinned (read in place, never through the cache); everything else keeps the default
     * (experts through the cache when there is one, all other tensors resident).
     */
    public static Engine open(Path path, int threads, int contextLength, int batch, CacheOptions cacheOptions,
                              java.util.List<String> tensorOverrides) throws IOException {
        GgufFile f = GgufFile.open(path);
        KernelWidth.chooseFor(f.weightBytesByType());
        ExpertCache cache = null;
        StatisticsStore store = null;
        try {
            Model m = Model.load(f);
            Tokenizer t = Tokenizer.from(f);
            int ctx = contextLength > 0 ? contextLength : Math.min(m.config().contextLength(), 4096);
            var c = m.config();
            ExpertStatistics stats = null;
            if (c.isMoe() && cacheOptions.stateDir() != null) {
                store = StatisticsStore.open(cacheOptions.stateDir(), m.identity(), c.layers(), c.experts());
                stats = new ExpertStatistics(c.layers(), c.experts(), c.expertsUsed());
            }
            ExpertSource src = null;
            if (c.isMoe() && cacheOptions.cached()) {
                BackingStore backing = cacheOptions.backing().equals("direct")
                        ? new DirectBackingStore(path, m.expertLayout()) : new MappedBackingStore();
                double[] heat = store != null ? store.heat() : null;
                EvictionPolicy policy = EvictionPolicy.create(cacheOptions.policy(), c.layers() * c.experts(), heat);
                cache = new ExpertCache(m.expertLayout(), backing, policy, cacheOptions.budgetBytes(), c.expertsUsed(),
                        cacheOptions.onMiss(), cacheOptions.ioThreads());
                src = cache;
            } else if (c.isMoe()) {
                src = new MappedExpertSource(m.expertLayout());
            }
            boolean[] pinnedLayers = pinnedExpertLayers(f, c.layers(), tensorOverrides);
            if (cache != null && anyTrue(pinnedLayers)) {
                src = new moed.cache.LayeredExpertSource(cache, new MappedExpertSource(m.expertLayout()), pinnedLayers);
            }
            if (store != null) {
                ExpertCache cc = cache;
                store.attach(stats, cc != null ? cc::counters : null, cacheOptions.flushMillis());
            }
            Engine e = new Engine(f, m, t, new ParallelExecutor(threads), src, ctx, batch, cache, stats, store);
            e.pinnedExpertLayers = pinnedLayers;
            for (String o : tensorOverrides) {
                e.startupReport.add("override " + o + ": " + describeOverride(f, o));
            }
            if (cache != null && !cacheOptions.predictor().equals("none")) {
                e.installPlanner(cacheOptions.predictor(), cacheOptions.lookahead(), cacheOptions.prefetchMargin());
            }
            e.reportStartup(cacheOptions);
            return e;
        } catch (RuntimeException | IOException e) {
            if (cache != null) {
                cache.close();
            }
            if (store != null) {
                store.close();
            }
            f.close();
            throw e;
        }
    }

    /** Layers whose expert tensors a {@code =resident} override names; refuses overrides moed cannot honour. */
    static boolean[] pinnedExpertLayers(GgufFile f, int layers, java.util.List<String> overrides) {
        boolean[] pinned = new boolean[layers];
        for (String o : overrides) {
            int eq = o.lastIndexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("--override-tensor takes REGEX=resident|backing, got '" + o + "'");
            }
            String where = o.substring(eq + 1);
            java.util.regex.Pattern p;
            try {
                p = java.util.regex.Pattern.compile(o.substring(0, eq));
            } catch (java.util.regex.PatternSyntaxException ex) {
                throw new IllegalArgumentException("--override-tensor: '" + o.substring(0, eq) + "' is not a regular expression: "
                        + ex.getDescription());
            }
            if (!where.equals("resident") && !where.equals("backing")) {
                throw new IllegalArgumentException("--override-tensor: '" + where + "' must be resident or backing");
            }
            for (var t : f.tensors().values()) {
                if (!p.matcher(t.name()).find()) {
                    continue;
                }
                boolean expert = t.name().contains("_exps.");
                if (!expert && where.equals("backing")) {
                    throw new IllegalArgumentException("--override-tensor " + o + ": " + t.name() + " is not an expert tensor;"
                            + " only expert tensors (ffn_*_exps) can go through the expert cache");
                }
                if (expert && where.equals("resident")) {
                    int layer = layerOf(t.name());
                    if (layer >= 0 && layer < layers) {
                        pinned[layer] = true;
                    }
                }
            }
        }
        return pinned;
    }

    private static String describeOverride(GgufFile f, String o) {
        int eq = o.lastIndexOf('=');
        java.util.regex.Pattern p = java.util.regex.Pattern.compile(o.substring(0, eq));
        long n = f.tensors().values().stream().filter(t -> p.matcher(t.name()).find()).count();
        return n == 0 ? "matches no tensor (check the names with 'moed model info --tensors')" : "matches " + n + " tensors";
    }

    private static int layerOf(String name) {
        if (!name.startsWith("blk.")) {
            return -1;
        }
        int dot = name.indexOf('.', 4);
        try {
            return Integer.parseInt(name.substring(4, dot));
        } catch (RuntimeException e) {
            return -1;
        }
    }

    private static boolean anyTrue(boolean[] a) {
        for (boolean b : a) {
            if (b) {
                return true;
            }
        }
        return false;
    }

    /**
     * Applies the routing knobs (smart expert reduction, cache-aware routing, skipped layers); the predictor then
     * predicts only layers whose MoE runs.
     */
    public void routing(moed.runtime.model.RoutingOptions options) {
        if (options.cacheAwareMargin() > 0 && cache == null) {
            throw new IllegalArgumentException("--cache-aware-routing prefers experts resident in the cache: give --cache-gb or --cache-mb too");
        }
        transformer.routing(options);
        if (planner != null) {
            installPlanner(plannerName, plannerLookahead, plannerMargin);
        }
    }

    /** What the start-up says about memory: budget, expert size, how many fit, pinned bytes; then warms the cache. */
    private void reportStartup(CacheOptions o) {
        if (cache == null) {
            return;
        }
        var layout = model.expertLayout();
        startupReport.add(String.format(
                "expert cache: %.1f MiB budget (%s backing, %s policy, on miss: %s, predictor: %s); one expert is %.3f MiB, so %d of %d experts fit (%.0f%%); pinned (non-expert) weights %.1f MiB",
                cache.budgetBytes() / 1048576.0, cache.backingName(), cache.policyName(), cache.onMiss().name().toLowerCase(),
                planner == null ? "none" : planner.predictorName() + ", look-ahead " + o.lookahead() + ", margin " + o.prefetchMargin(),
                layout.maxExpertBytes() / 1048576.0, cache.slotCount(), layout.entryCount(),
                100.0 * cache.slotCount() / layout.entryCount(), model.pinnedBytes() / 1048576.0));
        if (store != null && o.warmFraction() > 0) {
            int limit = (int) (cache.slotCount() * o.warmFraction());
            int warmed = 0;
            for (int[] h : store.hottest()) {
                if (warmed >= limit) {
                    break;
                }
                if (cache.warm(h[0], h[1])) {
                    warmed++;
                }
            }
            startupReport.add(String.format("warm start: loading the %d historically hottest experts (statistics: %s)",
                    warmed, store.file()));
        }
    }

    /** The router weights of every MoE layer, as the predictor takes them. */
    public static RouterWeights[] routerWeights(Model m) {
        var c = m.config();
        RouterWeights[] r = new RouterWeights[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            if (m.layer(l).router() != null) {
                r[l] = new RouterWeights(m.layer(l).ffnNorm(), c.rmsEps(), m.layer(l).router(), m.layer(l).routerBias(),
                        m.layer(l).scoring());
            }
        }
        return r;
    }

    /** Builds the named predictor for this model: gate (look-ahead), prior (transitions + recency) or gate+prior. */
    public ExpertPredictor newPredictor(String name) {
        var c = model.config();
        GateLookaheadPredictor gate = new GateLookaheadPredictor(routerWeights(model), c.dim());
        PriorPredictor prior = new PriorPredictor(c.layers(), c.experts(), c.expertsUsed(), 0.3f);
        if (store != null) {
            for (int l = 0; l + 1 < c.layers(); l++) {
                for (int e = 0; e < c.experts(); e++) {
                    prior.seedTransitions(l, e, store.transitions(l, e));
                }
            }
        }
        return switch (name) {
            case "gate" -> gate;
            case "prior" -> prior;
            case "gate+prior" -> new CombinedPredictor(gate, prior, 0.05f, c.experts());
            default -> throw new IllegalArgumentException("unknown predictor '" + name + "'");
        };
    }

    private void installPlanner(String name, int lookahead, int margin) {
        plannerName = name;
        plannerLookahead = lookahead;
        plannerMargin = margin;
        var c = model.config();
        boolean[] moe = new boolean[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            // Layers whose MoE is skipped or whose experts are pinned need no prefetching.
            moe[l] = model.layer(l).router() != null && !transformer.routing().skipsMoe(l)
                    && !(pinnedExpertLayers != null && pinnedExpertLayers[l]);
        }
        PrefetchPlanner p = new PrefetchPlanner(cache, newPredictor(name), moe, c.experts(), c.expertsUsed(), lookahead, margin, 0.9f);
        this.planner = p;
        p.listen(this::recordPrediction);
        transformer.hook(new LayerHook() {
            @Override
            public void afterAttention(int layer, float[][] x, int n) {
                for (int i = 0; i < n; i++) {
                    p.afterAttention(layer, i, x[i]);
                }
            }

            @Override
            public void routed(int layer, int[] counts, int experts) {
                p.routed(layer, counts, experts);
            }

            @Override
            public void afterStep() {
                p.nextToken();
            }
        });
        installObserver(0);
    }

    public PrefetchPlanner planner() {
        return planner;
    }

    /** Lines describing the cache set-up, for the start-up log. */
    public java.util.List<String> startupReport() {
        return startupReport;
    }

    /** The expert cache, or null when experts are read in place. */
    public ExpertCache cache() {
        return cache;
    }

    public StatisticsStore statisticsStore() {
        return store;
    }

    /**
     * Records moed's JFR events into {@code file} until {@link #stopRecording} (or close): a session event
     * describing the model and cache, then every routing decision, cache access, load, prefetch, eviction,
     * step and request.
     */
    public void startRecording(Path file) throws IOException {
        startRecording(file, 0);
    }

    /** As {@link #startRecording(Path)}, keeping at most maxBytes of the newest events (0: all). */
    public void startRecording(Path file, long maxBytes) throws IOException {
        var c = model.config();
        ExpertCache cc = cache;
        recorder = new moed.jfr.Recorder(file, cc == null ? null
                : () -> new long[] {cc.residentBytes(), cc.budgetBytes(), cc.residentCount()}, maxBytes);
        moed.jfr.Events.Session s = new moed.jfr.Events.Session();
        s.model = file().path().getFileName().toString();
        s.layers = c.layers();
        s.experts = c.experts();
        s.expertsUsed = c.expertsUsed();
        s.expertBytes = model.expertLayout() != null ? model.expertLayout().maxExpertBytes() : 0;
        s.budgetBytes = cc != null ? cc.budgetBytes() : 0;
        s.slots = cc != null ? cc.slotCount() : 0;
        s.backing = cc != null ? cc.backingName() : "none";
        s.policy = cc != null ? cc.policyName() : "none";
        s.predictor = planner != null ? planner.predictorName() : "none";
        s.commit();
        installObserver(0);
    }

    public void stopRecording() {
        if (recorder != null) {
            recorder.close();
            recorder = null;
            installObserver(0);
        }
    }

    private void recordPrediction(int token, int layer, int distance, int[] ex, int n) {
        moed.jfr.Events.Prediction ev = new moed.jfr.Events.Prediction();
        if (ev.shouldCommit()) {
            ev.step = stepId;
            ev.token = token;
            ev.layer = layer;
            ev.distance = distance;
            ev.count = Math.min(n, 16);
            ev.experts0 = moed.jfr.Packing.ids(ex, ev.count, 0);
            ev.experts1 = moed.jfr.Packing.ids(ex, ev.count, 4);
            ev.experts2 = moed.jfr.Packing.ids(ex, ev.count, 8);
            ev.experts3 = moed.jfr.Packing.ids(ex, ev.count, 12);
            ev.commit();
        }
    }

    public GgufFile file() {
        return file;
    }

    private static void recordDecision(long request, long step, int pos, int layer, int[] ex, float[] w, int k, int rerouted) {
        moed.jfr.Events.RouterDecision d = new moed.jfr.Events.RouterDecision();
        if (d.shouldCommit()) {
            d.rerouted = rerouted;
            d.request = request;
            d.step = step;
            d.position = pos;
            d.layer = layer;
            d.k = Math.min(k, moed.jfr.Packing.MAX_K);
            d.experts0 = moed.jfr.Packing.ids(ex, d.k, 0);
            d.experts1 = moed.jfr.Packing.ids(ex, d.k, 4);
            d.weights0 = moed.jfr.Packing.halves(w, d.k, 0);
            d.weights1 = moed.jfr.Packing.halves(w, d.k, 4);
            d.commit();
        }
    }

    private void installObserver(int sequenceId) {
        RouterObserver user = userObserver;
        ExpertStatistics st = statistics;
        PrefetchPlanner p = planner;
        boolean rec = recorder != null;
        if (st == null && p == null && !rec) {
            transformer.observe(user, sequenceId);
            return;
        }
        transformer.observe((seq, pos, layer, ex, w, k) -> {
            if (rec) {
                recordDecision(seq, stepId, pos, layer, ex, w, k, transformer.lastRerouted());
            }
            if (st != null) {
                st.recordRoute(pos, layer, ex, k);
            }
            if (p != null) {
                p.observe(layer, ex, k);
            }
            if (user != null) {
                user.onRoute(seq, pos, layer, ex, w, k);
            }
        }, sequenceId);
    }

    /**
     * Warns (at most once a minute) when the cache is thrashing: most accesses miss and waiting for loads is a
     * large share of the time. Returns the warning, or null.
     */
    public String thrashWarning(CacheCounters before, CacheCounters after, long elapsedNanos) {
        if (cache == null) {
            return null;
        }
        CacheCounters d = after.since(before);
        long accesses = d.accesses();
        long stall = d.stallNanos;
        double hitRate = d.hitRate();
        if (accesses < 100 || hitRate >= 0.5 || stall < elapsedNanos / 4 || System.nanoTime() - lastWarning < 60_000_000_000L) {
            return null;
        }
        lastWarning = System.nanoTime();
        long all = model.expertLayout().totalExpertBytes();
        return String.format("the expert cache is thrashing: hit rate %.0f%%, %.0f%% of the time spent waiting for loads. "
                + "All experts take %.2f GiB: raise --cache-gb toward that, or use --cache-policy lfu/heat; "
                + "'moed analyze %s' recommends a size from this run's routing",
                100 * hitRate, 100.0 * stall / elapsedNanos, all / (double) (1L << 30),
                recorder != null ? recorder.file() : "RUN.jfr (record with --jfr RUN.jfr)");
    }

    public Model model() {
        return model;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public Transformer transformer() {
        return transformer;
    }

    public int contextLength() {
        return contextLength;
    }

    /** Prompt tokens per prefill step. */
    public int batch() {
        return batch;
    }

    public int threads() {
        return executor.threads();
    }

    public InferenceState newState() {
        return transformer.newState(contextLength, batch);
    }

    public void observe(RouterObserver observer, int sequenceId) {
        userObserver = observer;
        installObserver(sequenceId);
    }

    /** Encodes a prompt, refusing an empty one or one that leaves no room to generate. */
    public int[] encodePrompt(String prompt) {
        if (prompt == null || prompt.isEmpty()) {
            throw new IllegalArgumentException("the prompt is empty: give some text to continue");
        }
        return leavingRoom(tokenizer.encode(prompt, tokenizer.vocabulary().addBos()), "prompt");
    }

    /** The ids, if they leave at least one position of the context to generate into. */
    private int[] leavingRoom(int[] ids, String what) {
        if (ids.length >= contextLength) {
            throw new IllegalArgumentException("the " + what + " is " + ids.length + " tokens, the context holds " + contextLength
                    + ": shorten the " + what + " or raise -c");
        }
        return ids;
    }

    /**
     * Runs the prompt through the model in chunks of the batch size; returns the state with the last token's
     * logits in {@code state.logits(lastIndex)} and that index.
     */
    public int prefill(InferenceState s, int[] ids) {
        int last = -1;
        for (int off = 0; off < ids.length; off += batch) {
            int n = Math.min(batch, ids.length - off);
            boolean lastChunk = off + n == ids.length;
            step(s, ids, off, n, lastChunk ? n - 1 : -1, 0);
            last = n - 1;
        }
        return last;
    }

    /** One forward step, recorded as a moed.TokenStep (phase 0 prefill, 1 decode). */
    public void step(InferenceState s, int[] ids, int off, int n, int logitsFrom, int phase) {
        stepId++;
        moed.jfr.Events.TokenStep ev = new moed.jfr.Events.TokenStep();
        ev.begin();
        transformer.forward(s, ids, off, n, logitsFrom);
        ev.end();
        if (ev.shouldCommit()) {
            commitStep(ev, requestId, phase, n, 0);
        }
    }

    private void commitStep(moed.jfr.Events.TokenStep ev, long request, int phase, int tokens, int promptTokens) {
        ev.request = request;
        ev.step = stepId;
        ev.phase = phase;
        ev.tokens = tokens;
        ev.promptTokens = promptTokens;
        ev.commit();
    }

    /** A fresh request id (shared by solo generations and the batch scheduler, so recordings never mix them up). */
    public synchronized long newRequestId() {
        return ++requestId;
    }

    /** A KV cache for one more sequence of this engine's context length. */
    public InferenceState newSequenceState() {
        return InferenceState.kvOnly(model.config(), contextLength);
    }

    /** Step buffers for batches of up to {@code rows} rows over sequence states. */
    public InferenceState newScratchState(int rows) {
        return InferenceState.scratch(model.config(), contextLength, rows);
    }

    /**
     * One batched step (see {@link moed.runtime.model.Transformer#forwardRows}), recorded as a moed.TokenStep
     * (request 0: the step serves several); {@code promptRows} of the n rows are prompt tokens mixed into a decode
     * step, which the recording counts apart from the decode rows.
     */
    public void stepRows(InferenceState scratch, InferenceState[] kv, int[] seqIds, int[] tokens, int n, int logitsFrom,
                         int phase, int promptRows) {
        stepId++;
        moed.jfr.Events.TokenStep ev = new moed.jfr.Events.TokenStep();
        ev.begin();
        transformer.forwardRows(scratch, kv, seqIds, tokens, n, logitsFrom);
        ev.end();
        if (ev.shouldCommit()) {
            commitStep(ev, n > 0 && allSame(seqIds, n) ? seqIds[0] : 0, phase, phase == 1 ? n - promptRows : n,
                    phase == 1 ? promptRows : 0);
        }
    }

    private static boolean allSame(int[] a, int n) {
        for (int i = 1; i < n; i++) {
            if (a[i] != a[0]) {
                return false;
            }
        }
        return true;
    }

    /**
     * A conversation formatted by the model's chat template and tokenized with its special tokens parsed, ready for
     * the assistant's reply. A BOS the template writes itself is not added a second time.
     */
    public int[] encodeChat(java.util.List<moed.runtime.chat.ChatTemplate.Message> messages) {
        if (chatTemplate == null) {
            chatTemplate = moed.runtime.chat.ChatTemplate.of(model.file(), tokenizer.vocabulary());
        }
        moed.runtime.chat.ChatTemplate t = chatTemplate;
        String text = t.render(messages, true);
        boolean addBos = tokenizer.vocabulary().addBos();
        if (addBos && !t.bosToken().isEmpty() && text.startsWith(t.bosToken())) {
            text = text.substring(t.bosToken().length());
        }
        return leavingRoom(tokenizer.encode(text, addBos, true), "conversation");
    }

    /** Generates up to maxTokens after the prompt; stops early at end-of-sequence or when the listener says so. */
    public Generation generate(String prompt, int maxTokens, SamplerConfig cfg, TokenListener listener) {
        return generate(encodePrompt(prompt), maxTokens, cfg, listener);
    }

    /** Generates up to maxTokens after already tokenized prompt ids (from {@link #encodeChat}, say). */
    public Generation generate(int[] ids, int maxTokens, SamplerConfig cfg, TokenListener listener) {
        requestId++;
        transformer.sequence((int) requestId);
        moed.jfr.Events.Request req = new moed.jfr.Events.Request();
        req.begin();
        int room = contextLength - ids.length;
        int n = Math.min(maxTokens, room);
        InferenceState s = newState();
        Sampler sampler = new Sampler(cfg, model.config().vocab());
        for (int id : ids) {
            sampler.accept(id);
        }
        StreamingDecoder decoder = new StreamingDecoder(tokenizer);
        StringBuilder text = new StringBuilder();
        int[] out = new int[n];
        int produced = 0;
        String reason = n < maxTokens ? "context" : "length";
        long t0 = System.nanoTime();
        int last = prefill(s, ids);
        long t1 = System.nanoTime();
        float[] logits = s.logits(last);
        int[] one = new int[1];
        while (produced < n) {
            int next = sampler.sample(logits, model.config().vocab());
            out[produced++] = next;
            sampler.accept(next);
            if (tokenizer.vocabulary().isEndOfGeneration(next)) {
                reason = "eos";
                break;
            }
            String piece = decoder.accept(next);
            text.append(piece);
            if (listener != null && !listener.onToken(next, piece)) {
                reason = "stopped";
                break;
            }
            if (produced == n) {
                break;
            }
            one[0] = next;
            step(s, one, 0, 1, 0, 1);
            logits = s.logits(0);
        }
        String tail = decoder.finish();
        text.append(tail);
        long t2 = System.nanoTime();
        req.end();
        if (req.shouldCommit()) {
            req.request = requestId;
            req.promptTokens = ids.length;
            req.generatedTokens = produced;
            req.stopReason = reason;
            req.commit();
        }
        return new Generation(ids, java.util.Arrays.copyOf(out, produced), text.toString(), reason, t1 - t0, t2 - t1);
    }

    /** The outcome of one generation, with timings of its two phases. */
    public record Generation(int[] promptIds, int[] generatedIds, String text, String stopReason, long prefillNanos,
                             long decodeNanos) {
        public double prefillTokensPerSecond() {
            return promptIds.length / (prefillNanos / 1e9);
        }

        public double decodeTokensPerSecond() {
            // The first generated token comes from the prefill's logits; the others each cost one forward step.
            int steps = Math.max(generatedIds.length - 1, 0);
            return steps == 0 ? 0 : steps / (decodeNanos / 1e9);
        }
    }

    @Override
    public void close() {
        stopRecording();
        executor.close();
        if (experts != null) {
            experts.close();
        }
        if (store != null) {
            store.close();
        }
        file.close();
    }
}
