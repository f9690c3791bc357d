package moed.runtime;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import moed.cache.CacheCounters;
import moed.cache.ExpertCache;
import moed.cache.StatisticsStore;
import moed.cache.ThrashDetector;
import moed.jfr.Events;
import moed.kernels.KernelWidth;
import moed.kernels.MatMat;
import moed.kernels.ParallelExecutor;
import moed.predictor.PrefetchPlanner;
import moed.runtime.chat.ChatTemplate;
import moed.runtime.config.CacheOptions;
import moed.runtime.config.Setting;
import moed.runtime.config.SettingException;
import moed.runtime.gguf.GgufFile;
import moed.runtime.model.InferenceState;
import moed.runtime.model.KvCache;
import moed.runtime.model.Model;
import moed.runtime.model.RouterObserver;
import moed.runtime.model.RoutingOptions;
import moed.runtime.model.StepScratch;
import moed.runtime.model.Transformer;
import moed.runtime.sampling.SamplerConfig;
import moed.runtime.tokenizer.Tokenizer;

/**
 * A loaded model ready to generate: the mapped file, tokenizer, compute threads and forward pass, with its experts
 * served as {@link ExpertServing} wires them and watched by {@link Instrumentation}. Runs one sequence at a time
 * ({@link #generate}); the daemon's scheduler batches sequences on top of it ({@link #stepRows}).
 */
public final class Engine implements AutoCloseable {
    private final GgufFile file;
    private final Model model;
    private final Tokenizer tokenizer;
    /** The model's chat template, parsed on first use (null until then). */
    private ChatTemplate chatTemplate;
    private final ParallelExecutor executor;
    private final ExpertServing experts;
    private final Transformer transformer;
    private final Instrumentation instrumentation;
    private final ThrashDetector thrash = new ThrashDetector();
    private final ModelFileWatch fileWatch;
    private final int contextLength;
    private final int batch;
    private final List<String> startupReport = new ArrayList<>();
    private long requestId;

    private Engine(GgufFile file, ModelFileWatch fileWatch, Model model, Tokenizer tokenizer, ParallelExecutor executor,
                   ExpertServing experts, int contextLength, int batch) {
        this.file = file;
        this.fileWatch = fileWatch;
        this.model = model;
        this.tokenizer = tokenizer;
        this.executor = executor;
        this.experts = experts;
        this.transformer = new Transformer(model, experts.source, new MatMat(executor));
        this.instrumentation = new Instrumentation(transformer, model, experts);
        this.contextLength = contextLength;
        this.batch = batch;
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
        return open(path, threads, contextLength, batch, cacheOptions, TensorOverrides.NONE);
    }

    /** As above, with tensor overrides that pin some layers' experts in place. */
    public static Engine open(Path path, int threads, int contextLength, int batch, CacheOptions cacheOptions,
                              TensorOverrides overrides) throws IOException {
        if (contextLength < 0) {
            throw new SettingException(Setting.CONTEXT_LENGTH, "the context length must be >= 0 (0: the model's own), got " + contextLength);
        }
        if (batch < 1) {
            throw new SettingException(Setting.PREFILL_BATCH, "the prefill batch must be >= 1 token, got " + batch);
        }
        GgufFile f = GgufFile.open(path);
        KernelWidth.chooseFor(f.weightBytesByType());
        ExpertServing serving = null;
        ModelFileWatch watch = null;
        try {
            watch = new ModelFileWatch(path);
            Model m = Model.load(f).withMatricesForDecode();
            Tokenizer t = Tokenizer.from(f);
            int ctx = contextLength > 0 ? contextLength : Math.min(m.config().contextLength(), 4096);
            serving = ExpertServing.open(path, f, m, cacheOptions, overrides);
            Engine e = new Engine(f, watch, m, t, new ParallelExecutor(threads), serving, ctx, batch);
            e.startupReport.addAll(overrides.describe(f));
            e.instrumentation.prefetch(cacheOptions.prefetch());
            addLine(e.startupReport, serving.describe(m, e.instrumentation.describePrefetch()));
            // Loads run in the background while the caller goes on.
            addLine(e.startupReport, serving.warmStart(cacheOptions.statistics().warmFraction()));
            return e;
        } catch (RuntimeException | IOException e) {
            if (serving != null) {
                serving.close();
            }
            if (watch != null) {
                watch.close();
            }
            f.close();
            throw e;
        }
    }

    private static void addLine(List<String> lines, String line) {
        if (line != null) {
            lines.add(line);
        }
    }

    /**
     * Applies the routing knobs (smart expert reduction, cache-aware routing, skipped layers); the predictor then
     * predicts only layers whose MoE runs.
     */
    public void routing(RoutingOptions options) {
        if (options.cacheAwareMargin() > 0 && experts.cache == null) {
            throw new SettingException(Setting.CACHE_AWARE_ROUTING,
                    "cache-aware routing prefers experts resident in the expert cache: give the cache a size too");
        }
        transformer.routing(options);
        instrumentation.replan();
    }

    public PrefetchPlanner planner() {
        return instrumentation.planner();
    }

    /** Lines describing the set-up (overrides, cache, warm start), for the start-up log. */
    public List<String> startupReport() {
        return startupReport;
    }

    /** The expert cache, or null when experts are read in place. */
    public ExpertCache cache() {
        return experts.cache;
    }

    /** Whether layer {@code layer}'s experts are read through the cache (not pinned by {@code -ot ...=resident}). */
    public boolean cachesLayer(int layer) {
        return experts.cache != null && !experts.pinnedLayers[layer];
    }

    public StatisticsStore statisticsStore() {
        return experts.store;
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
        instrumentation.startRecording(file, maxBytes);
    }

    public void stopRecording() {
        instrumentation.stopRecording();
    }

    /** Installs the caller's routing observer (null for none), told every decision after recording and statistics. */
    public void observe(RouterObserver observer) {
        instrumentation.observe(observer);
    }

    /**
     * Warns when the cache thrashed between two snapshots of its counters taken {@code elapsedNanos} apart (at most
     * once a minute; see {@link ThrashDetector}), with what to do about it. Returns the warning, or null.
     */
    public String thrashWarning(CacheCounters before, CacheCounters after, long elapsedNanos) {
        if (experts.cache == null) {
            return null;
        }
        ThrashDetector.Thrashing t = thrash.check(before, after, elapsedNanos);
        if (t == null) {
            return null;
        }
        Path rec = instrumentation.recordingFile();
        return String.format("the expert cache is thrashing: hit rate %.0f%%, %.0f%% of the time spent waiting for loads. "
                        + "All experts take %.2f GiB: raise the expert cache size toward that, or use the lfu or heat cache policy; "
                        + "'moed analyze %s' recommends a size from this run's routing",
                100 * t.hitRate(), 100 * t.stallShare(), model.expertLayout().totalExpertBytes() / (double) (1L << 30),
                rec != null ? rec : "RUN.jfr (a JFR recording of this run)");
    }

    public GgufFile file() {
        return file;
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

    /** A sequence run alone over this engine's context length and prefill batch (reported as sequence 0). */
    public InferenceState newState() {
        return transformer.newState(contextLength, batch);
    }

    /** A fresh request id (shared by solo generations and the batch scheduler, so recordings never mix them up). */
    public synchronized long newRequestId() {
        return ++requestId;
    }

    /** A KV cache for one more sequence of this engine's context length, reported as {@code sequenceId}. */
    public KvCache newKvCache(long sequenceId) {
        return new KvCache(model.config(), contextLength, sequenceId);
    }

    /** Step buffers for batches of up to {@code rows} rows over sequences' KV caches. */
    public StepScratch newScratch(int rows) {
        return new StepScratch(model.config(), rows);
    }

    /** Encodes a prompt, refusing an empty one or one that leaves no room to generate. */
    public int[] encodePrompt(String prompt) {
        if (prompt == null || prompt.isEmpty()) {
            throw new IllegalArgumentException("the prompt is empty: give some text to continue");
        }
        return leavingRoom(tokenizer.encode(prompt, tokenizer.vocabulary().addBos()), "prompt");
    }

    /**
     * A conversation formatted by the model's chat template and tokenized with its special tokens parsed, ready for
     * the assistant's reply. A BOS the template writes itself is not added a second time.
     */
    public int[] encodeChat(List<ChatTemplate.Message> messages) {
        ChatTemplate t = chatTemplate();
        String text = t.render(messages, true);
        boolean addBos = tokenizer.vocabulary().addBos();
        if (addBos && !t.bosToken().isEmpty() && text.startsWith(t.bosToken())) {
            text = text.substring(t.bosToken().length());
        }
        return leavingRoom(tokenizer.encode(text, addBos, true), "conversation");
    }

    /** Formats conversations with {@code template} instead of the file's (or for a file that has none). */
    public synchronized void useChatTemplate(ChatTemplate template) {
        chatTemplate = template;
    }

    private synchronized ChatTemplate chatTemplate() {
        if (chatTemplate == null) {
            chatTemplate = ChatTemplate.of(model.file(), tokenizer.vocabulary());
        }
        return chatTemplate;
    }

    /** The ids, if they leave at least one position of the context to generate into. */
    private int[] leavingRoom(int[] ids, String what) {
        if (ids.length >= contextLength) {
            throw new SettingException(Setting.CONTEXT_LENGTH, "the " + what + " is " + ids.length + " tokens, the context holds "
                    + contextLength + ": shorten the " + what + " or raise the context length");
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
            step(s, ids, off, n, lastChunk ? n - 1 : -1, StepPhase.PREFILL);
            last = n - 1;
        }
        return last;
    }

    /** One forward step of a sequence run alone, recorded as a moed.TokenStep of that phase. */
    public void step(InferenceState s, int[] ids, int off, int n, int logitsFrom, StepPhase phase) {
        fileWatch.check();
        instrumentation.nextStep();
        Events.TokenStep ev = new Events.TokenStep();
        ev.begin();
        try {
            transformer.forward(s, ids, off, n, logitsFrom);
        } catch (InternalError fault) {
            throw explained(fault);
        }
        ev.end();
        instrumentation.commitStep(ev, s.kv().sequenceId(), phase.code, n, 0);
    }

    /**
     * One batched step (see {@link Transformer#forwardRows}), recorded as a moed.TokenStep (request 0 when the step
     * serves several); {@code promptRows} of the n rows are prompt tokens mixed into a decode step, which the
     * recording counts apart from the decode rows.
     */
    public void stepRows(StepScratch scratch, KvCache[] kv, int[] tokens, int n, int logitsFrom, StepPhase phase, int promptRows) {
        fileWatch.check();
        instrumentation.nextStep();
        Events.TokenStep ev = new Events.TokenStep();
        ev.begin();
        try {
            transformer.forwardRows(scratch, kv, tokens, n, logitsFrom);
        } catch (InternalError fault) {
            throw explained(fault);
        }
        ev.end();
        boolean decode = phase == StepPhase.DECODE;
        instrumentation.commitStep(ev, n > 0 && oneSequence(kv, n) ? kv[0].sequenceId() : 0, phase.code,
                decode ? n - promptRows : n, decode ? promptRows : 0);
    }

    /**
     * A fault in a mapped page during a step (the JVM's InternalError for a SIGBUS) is most likely the model file
     * shrinking mid-step: say so when the file shows it, else pass the fault on.
     */
    private RuntimeException explained(InternalError fault) {
        try {
            fileWatch.check();
        } catch (RuntimeException clear) {
            clear.addSuppressed(fault);
            return clear;
        }
        throw fault;
    }

    private static boolean oneSequence(KvCache[] kv, int n) {
        for (int i = 1; i < n; i++) {
            if (kv[i] != kv[0]) {
                return false;
            }
        }
        return true;
    }

    /** Text for {@link #warmUp}: any words do; what matters is that every kernel of a prompt and a decode step runs. */
    private static final String WARM_TEXT = "The old king looked at the sea and said that the ships would come back before the"
            + " winter, and the people of the town believed him, for he had never been wrong about the sea. ";

    /**
     * Runs prompts and decode steps that nobody reads until {@code budgetNanos} have passed (at least one round), so
     * the JIT has compiled the forward pass before a server's first request: untouched, that request's prompt ran at
     * a fraction of later ones' speed. The steps go the batch scheduler's way ({@link #stepRows}), through the expert
     * cache like any other (which also warms it).
     */
    public int warmUp(long budgetNanos) {
        int[] ids = tokenizer.encode(WARM_TEXT.repeat(8), tokenizer.vocabulary().addBos());
        int promptLength = Math.min(Math.min(ids.length, 2 * batch), contextLength / 2);
        int decodeSteps = Math.min(16, contextLength - promptLength - 1);
        StepScratch scratch = newScratch(batch);
        KvCache kv = newKvCache(newRequestId());
        KvCache[] rows = new KvCache[batch];
        java.util.Arrays.fill(rows, kv);
        int[] chunk = new int[batch];
        long end = System.nanoTime() + budgetNanos;
        int rounds = 0;
        do {
            kv.reset(kv.sequenceId());
            for (int off = 0; off < promptLength; off += batch) {
                int n = Math.min(batch, promptLength - off);
                System.arraycopy(ids, off, chunk, 0, n);
                stepRows(scratch, rows, chunk, n, n - 1, StepPhase.PREFILL, n);
            }
            for (int i = 0; i < decodeSteps; i++) {
                chunk[0] = ids[(promptLength + i) % ids.length];
                stepRows(scratch, rows, chunk, 1, 0, StepPhase.DECODE, 0);
            }
            rounds++;
        } while (System.nanoTime() < end);
        return rounds;
    }

    /** Generates up to maxTokens after the prompt; stops early at end-of-sequence or when the listener says so. */
    public Generation generate(String prompt, int maxTokens, SamplerConfig cfg, TokenListener listener) {
        return generate(encodePrompt(prompt), maxTokens, cfg, listener);
    }

    /** Generates up to maxTokens after already tokenized prompt ids (from {@link #encodeChat}, say). */
    public Generation generate(int[] ids, int maxTokens, SamplerConfig cfg, TokenListener listener) {
        long request = newRequestId();
        Events.Request req = new Events.Request();
        req.begin();
        InferenceState s = transformer.newState(contextLength, batch, request);
        GenerationLoop g = new GenerationLoop(tokenizer, model.config().vocab(), cfg, ids, maxTokens, contextLength - ids.length,
                List.of(), listener);
        long t0 = System.nanoTime();
        int last = prefill(s, ids);
        long t1 = System.nanoTime();
        float[] logits = s.logits(last);
        int[] one = new int[1];
        StopReason reason = g.stopsAtOnce();
        while (reason == null && (reason = g.next(logits)) == null) {
            one[0] = g.lastToken();
            step(s, one, 0, 1, 0, StepPhase.DECODE);
            logits = s.logits(0);
        }
        g.finish(reason);
        long t2 = System.nanoTime();
        req.end();
        if (req.shouldCommit()) {
            req.request = request;
            req.promptTokens = ids.length;
            req.generatedTokens = g.produced();
            req.stopReason = reason.toString();
            req.commit();
        }
        return new Generation(ids, g.tokens(), g.text(), reason, t1 - t0, t2 - t1);
    }

    /** The outcome of one generation, with timings of its two phases. */
    public record Generation(int[] promptIds, int[] generatedIds, String text, StopReason stopReason, long prefillNanos,
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
        experts.close();
        fileWatch.close();
        file.close();
    }
}
