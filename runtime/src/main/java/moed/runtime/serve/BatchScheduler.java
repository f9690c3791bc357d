package moed.runtime.serve;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import moed.jfr.Events;
import moed.runtime.Engine;
import moed.runtime.GenerationLoop;
import moed.runtime.StepPhase;
import moed.runtime.StopReason;
import moed.runtime.chat.ChatTemplate;
import moed.runtime.config.Setting;
import moed.runtime.config.SettingException;
import moed.runtime.model.KvCache;
import moed.runtime.model.StepScratch;
import moed.runtime.sampling.SamplerConfig;

/**
 * Continuous batching over one engine: requests arrive from any thread; the compute thread admits up to
 * {@code maxSequences} of them (the rest queue), prefills each newcomer, then runs decode steps in which every active
 * sequence contributes one row, so an expert chosen by several sequences is read once per step. Each sequence keeps
 * its own KV cache, sampler and detokenizer; rows are computed exactly as alone, so greedy outputs equal solo runs.
 *
 * <p>Callbacks ({@link Stream}) run on the compute thread and must not block for long.
 */
public final class BatchScheduler {
    /** What a request asks for. {@code stops}: generation ends before the first occurrence of any of these strings. */
    public record Params(int maxTokens, SamplerConfig sampler, List<String> stops) {
        public Params {
            if (maxTokens < 1) {
                throw new IllegalArgumentException("max tokens must be >= 1, got " + maxTokens);
            }
            stops = List.copyOf(stops);
        }
    }

    /** Where a request's results go. Exactly one of done or error ends every accepted request. */
    public interface Stream {
        /** The text token {@code id} completes (possibly empty); id -1 carries the detokenizer's last characters. */
        void token(int id, String piece);

        void done(StopReason reason, int promptTokens, int generatedTokens, long prefillNanos, long decodeNanos);

        void error(String code, String message);
    }

    /** What a request continues: plain text, or a conversation the model's chat template formats. */
    public sealed interface Prompt {
        record Text(String text) implements Prompt {
        }

        record Chat(List<ChatTemplate.Message> messages) implements Prompt {
            public Chat {
                messages = List.copyOf(messages);
            }
        }
    }

    /** Thrown by {@link #submit} when {@code maxWaiting} requests already wait for a place: come back later. */
    public static final class QueueFullException extends RuntimeException {
        public QueueFullException(String message) {
            super(message);
        }
    }

    /**
     * A snapshot for status displays and metrics. {@code outcomes}: requests ended, by {@link StopReason} ordinal
     * (a refused prompt counts as {@link StopReason#ERROR}); {@code promptTokens}: prompt tokens of admitted requests.
     */
    public record Status(int active, int queued, long requestsDone, long tokensGenerated, double decodeTokensPerSecond,
                         long promptTokens, long[] outcomes, long refusedFull) {
        public long outcome(StopReason r) {
            return outcomes[r.ordinal()];
        }
    }

    /**
     * A request as it waits for a place: tokenized and given its KV cache on the submitting thread, so a long prompt
     * arriving never stalls the sequences already decoding; a prompt that cannot run carries its problem instead.
     */
    private record Submission(long id, int[] prompt, KvCache kv, String problem, Params params, Stream stream) {
    }

    private final class Sequence {
        final long id;
        final Stream stream;
        final KvCache kv;
        final int[] prompt;
        final GenerationLoop generation;
        final Events.Request event = new Events.Request();
        int prefilled; // prompt tokens already in the KV cache; the sequence decodes once all are
        long admitted;
        long prefillNanos;
        long decodeStart;
        boolean finished; // its cache given back and its event committed, exactly once

        Sequence(Submission s) {
            this.id = s.id();
            this.stream = s.stream();
            // A request queued while every cache was taken gets one now, usually a finished sequence's.
            this.kv = s.kv() != null ? s.kv() : cacheFor(s.id(), true);
            this.prompt = s.prompt();
            this.generation = new GenerationLoop(engine.tokenizer(), vocab, s.params().sampler(), prompt, s.params().maxTokens(),
                    engine.contextLength() - prompt.length, s.params().stops(), (id, piece) -> {
                        stream.token(id, piece);
                        return true;
                    });
        }
    }

    private final Engine engine;
    private final int maxSequences;
    private final int maxWaiting;
    /** Requests submitted and not yet admitted or answered (incoming and waiting), for the maxWaiting bound. */
    private final AtomicInteger unadmitted = new AtomicInteger();
    private final AtomicLongArray outcomes = new AtomicLongArray(StopReason.values().length);
    private final AtomicLong promptTokens = new AtomicLong();
    private final AtomicLong refusedFull = new AtomicLong();
    private final int vocab;
    private final Queue<Submission> incoming = new ConcurrentLinkedQueue<>();
    private final Queue<Long> cancels = new ConcurrentLinkedQueue<>();
    private final ArrayDeque<Submission> waiting = new ArrayDeque<>();
    private final List<Sequence> active = new ArrayList<>();
    private final List<Sequence> still = new ArrayList<>();
    /**
     * KV caches of finished sequences, reused by the next ones (a cache is contextLength x layers x (key + value
     * widths) F16 values); taken by submitting threads, given back by the compute thread.
     */
    private final Queue<KvCache> freeCaches = new ConcurrentLinkedQueue<>();
    private final StepScratch scratch;
    private final KvCache[] rowKv;
    private final int[] rowToken;
    private final AtomicLong done = new AtomicLong();
    private final AtomicInteger cachesMade = new AtomicInteger();
    private final AtomicLong generated = new AtomicLong();
    private volatile int activeCount;
    private volatile int queuedCount;
    private volatile double recentTokensPerSecond;
    private volatile Thread worker;
    private volatile boolean stopping;

    /** A scheduler with no bound on the requests waiting for a place. */
    public BatchScheduler(Engine engine, int maxSequences) {
        this(engine, maxSequences, Integer.MAX_VALUE);
    }

    /**
     * A scheduler decoding up to {@code maxSequences} requests together, with up to {@code maxWaiting} more queued
     * for a place; beyond that {@link #submit} refuses (a server says "busy, retry" rather than queue without end).
     */
    public BatchScheduler(Engine engine, int maxSequences, int maxWaiting) {
        if (maxWaiting < 0) {
            throw new SettingException(Setting.MAX_SEQUENCES, "the queue bound must be >= 0, got " + maxWaiting);
        }
        if (maxSequences < 1) {
            throw new SettingException(Setting.MAX_SEQUENCES, "at least one sequence must run at once, got " + maxSequences);
        }
        var c = engine.model().config();
        long kvBytes = KvCache.bytes(c, engine.contextLength());
        long heap = Runtime.getRuntime().maxMemory();
        if (kvBytes * maxSequences > heap * 3 / 4) {
            throw new SettingException(Setting.MAX_SEQUENCES, String.format(
                    "%d sequences of %d tokens need %.2f GiB of KV cache (%.3f GiB each), more than this JVM's %.2f GiB heap"
                            + " can spare: lower the context length or the concurrent sequences, or raise the heap (MOED_JAVA_OPTS=-Xmx...)",
                    maxSequences, engine.contextLength(), kvBytes * maxSequences / (double) (1L << 30),
                    kvBytes / (double) (1L << 30), heap / (double) (1L << 30)));
        }
        this.engine = engine;
        this.maxSequences = maxSequences;
        this.maxWaiting = maxWaiting;
        this.vocab = c.vocab();
        int rows = Math.max(maxSequences, engine.batch());
        this.scratch = engine.newScratch(rows);
        this.rowKv = new KvCache[rows];
        this.rowToken = new int[rows];
    }

    /** Queues a plain-text prompt; see {@link #submit(Prompt, Params, Stream)}. */
    public long submit(String prompt, Params params, Stream stream) {
        return submit(new Prompt.Text(prompt), params, stream);
    }

    /**
     * Queues a request (any thread); returns its id. The prompt is tokenized (a conversation formatted first) and the
     * sequence's KV cache found here, on the caller's thread; a prompt that cannot run is answered with an error once
     * the compute thread reaches it.
     *
     * @throws QueueFullException when {@code maxWaiting} requests already wait for a place (nothing is queued)
     */
    public long submit(Prompt prompt, Params params, Stream stream) {
        if (unadmitted.incrementAndGet() > (long) maxWaiting + Math.max(0, maxSequences - activeCount)) {
            unadmitted.decrementAndGet();
            refusedFull.incrementAndGet();
            throw new QueueFullException(String.format("the server is busy: %d requests are running and %d more wait for a place"
                    + " (at most %d may wait); try again shortly", activeCount, queuedCount, maxWaiting));
        }
        long id = engine.newRequestId();
        Submission s;
        try {
            int[] ids = switch (prompt) {
                case Prompt.Text t -> engine.encodePrompt(t.text());
                case Prompt.Chat c -> engine.encodeChat(c.messages());
            };
            s = new Submission(id, ids, cacheFor(id, false), null, params, stream);
        } catch (IllegalArgumentException e) {
            s = new Submission(id, null, null, e.getMessage(), params, stream);
        }
        incoming.add(s);
        wake();
        return id;
    }

    /**
     * A KV cache for sequence {@code id}: a finished sequence's, else a new one while fewer than maxSequences have
     * been made (so requests queued beyond that wait for a cache instead of each holding hundreds of MB); at
     * admission ({@code admitting}) one is always made, as an admitted sequence needs it now. So at most twice
     * maxSequences caches ever exist. Any thread.
     */
    private KvCache cacheFor(long id, boolean admitting) {
        KvCache kv = freeCaches.poll();
        if (kv != null) {
            kv.reset(id);
            return kv;
        }
        if (admitting || cachesMade.getAndIncrement() < maxSequences) {
            return engine.newKvCache(id);
        }
        cachesMade.decrementAndGet();
        return null;
    }

    /** Asks to stop a request (any thread); it ends with done("cancelled"). Unknown or finished ids are ignored. */
    public void cancel(long id) {
        cancels.add(id);
        wake();
    }

    public Status status() {
        long[] o = new long[outcomes.length()];
        for (int i = 0; i < o.length; i++) {
            o[i] = outcomes.get(i);
        }
        return new Status(activeCount, queuedCount, done.get(), generated.get(), recentTokensPerSecond, promptTokens.get(), o,
                refusedFull.get());
    }

    private void wake() {
        Thread w = worker;
        if (w != null) {
            LockSupport.unpark(w);
        }
    }

    /** Runs on the calling thread until {@link #stop}; idles parked when there is nothing to do. */
    public void run() {
        worker = Thread.currentThread();
        while (!stopping) {
            try {
                if (!runOnce()) {
                    LockSupport.parkNanos(50_000_000L);
                }
            } catch (RuntimeException e) {
                // Not a step (those are handled where they fail) but sampling, detokenizing or a stream callback:
                // the active requests end with the reason, and the compute thread goes on serving the others.
                String why = e.getMessage() != null ? e.getMessage() : e.toString();
                for (Sequence s : active) {
                    try {
                        fail(s, "internal", "request " + s.id + " failed: " + why);
                    } catch (RuntimeException again) {
                        // its stream is what failed: nothing more can be told to it
                    }
                }
                active.clear();
                activeCount = 0;
            }
        }
        // Whatever is still in flight gets a reply: the server is going away.
        drainIncoming();
        for (Sequence s : active) {
            finish(s, StopReason.SHUTDOWN);
            s.stream.error("shutdown", "the server is shutting down; request " + s.id + " stopped after "
                    + s.generation.produced() + " tokens");
        }
        active.clear();
        for (Submission s : waiting) {
            release(s.kv());
            unadmitted.decrementAndGet();
            ended(StopReason.SHUTDOWN);
            s.stream().error("shutdown", "the server is shutting down before request " + s.id() + " started");
        }
        waiting.clear();
        activeCount = 0;
        queuedCount = 0;
    }

    /** Makes {@link #run} return after the current step. */
    public void stop() {
        stopping = true;
        wake();
    }

    /** One round: cancellations, admissions (with their prefill), one decode step. Returns whether it did anything. */
    public boolean runOnce() {
        drainIncoming();
        boolean worked = applyCancels();
        while (active.size() < maxSequences && !waiting.isEmpty()) {
            admit(waiting.poll());
            worked = true;
        }
        queuedCount = waiting.size();
        if (!active.isEmpty()) {
            decodeStep();
            worked = true;
        }
        activeCount = active.size();
        return worked;
    }

    private void drainIncoming() {
        Submission s;
        while ((s = incoming.poll()) != null) {
            waiting.add(s);
        }
    }

    private boolean applyCancels() {
        boolean any = false;
        Long id;
        while ((id = cancels.poll()) != null) {
            long target = id;
            any = true;
            for (int i = 0; i < active.size(); i++) {
                Sequence s = active.get(i);
                if (s.id == target) {
                    active.remove(i);
                    complete(s, StopReason.CANCELLED);
                    break;
                }
            }
            for (var it = waiting.iterator(); it.hasNext(); ) {
                Submission w = it.next();
                if (w.id() == target) {
                    it.remove();
                    release(w.kv());
                    unadmitted.decrementAndGet();
                    w.stream().done(StopReason.CANCELLED, 0, 0, 0, 0);
                    ended(StopReason.CANCELLED);
                }
            }
        }
        return any;
    }

    private void admit(Submission sub) {
        unadmitted.decrementAndGet();
        if (sub.problem() != null) {
            ended(StopReason.ERROR);
            sub.stream().error("bad_request", sub.problem());
            return;
        }
        Sequence s = new Sequence(sub);
        promptTokens.addAndGet(sub.prompt().length);
        s.event.begin();
        s.admitted = System.nanoTime();
        active.add(s);
    }

    /**
     * One step over every active sequence: a chunk of the oldest unfinished prompt (as many rows as the decoding
     * sequences leave free) followed by one row per decoding sequence. A newcomer's prefill therefore never stalls
     * the others' decoding, and the prompt's last row sits right before the decode rows, so one contiguous range
     * of rows needs logits.
     */
    private void decodeStep() {
        Sequence filling = null;
        int decoding = 0;
        for (Sequence s : active) {
            if (s.prefilled < s.prompt.length) {
                if (filling == null) {
                    filling = s;
                }
            } else {
                decoding++;
            }
        }
        int n = 0;
        int chunk = 0;
        if (filling != null) {
            chunk = Math.min(filling.prompt.length - filling.prefilled, Math.min(engine.batch(), rowKv.length - decoding));
            for (int i = 0; i < chunk; i++) {
                rowKv[n] = filling.kv;
                rowToken[n++] = filling.prompt[filling.prefilled + i];
            }
        }
        for (Sequence s : active) {
            if (s.prefilled == s.prompt.length) {
                rowKv[n] = s.kv;
                rowToken[n++] = s.generation.lastToken();
            }
        }
        boolean promptDone = filling != null && filling.prefilled + chunk == filling.prompt.length;
        int logitsFrom = promptDone ? chunk - 1 : decoding > 0 ? chunk : -1;
        long t0 = System.nanoTime();
        try {
            engine.stepRows(scratch, rowKv, rowToken, n, logitsFrom, decoding > 0 ? StepPhase.DECODE : StepPhase.PREFILL, chunk);
        } catch (RuntimeException | InternalError e) {
            // InternalError: the JVM's report of a fault in a mapped page (a file truncated mid-step).
            // A step that cannot run (an expert that failed to load, a file that changed under us) ends the
            // requests whose rows it held, with the reason; their positions were not advanced, and every other
            // request, queued or arriving, is served as before.
            java.util.Arrays.fill(rowKv, 0, n, null);
            failStep(e, filling);
            return;
        }
        long took = System.nanoTime() - t0;
        if (decoding > 0) {
            recentTokensPerSecond = decoding * 1e9 / Math.max(took, 1);
        }
        // Sample every row first (logits live in the shared scratch), then drop the finished sequences.
        still.clear();
        int row = chunk;
        for (Sequence s : active) {
            boolean finished = false;
            if (s == filling) {
                s.prefilled += chunk;
                if (promptDone) {
                    s.prefillNanos = System.nanoTime() - s.admitted;
                    s.decodeStart = System.nanoTime();
                    finished = emit(s, scratch.logits(chunk - 1));
                }
            } else if (s.prefilled == s.prompt.length) {
                finished = emit(s, scratch.logits(row++));
            }
            if (!finished) {
                still.add(s);
            }
        }
        active.clear();
        active.addAll(still);
        java.util.Arrays.fill(rowKv, 0, n, null);
    }

    /**
     * Ends the sequences that had rows in the failed step (the one filling its prompt and every decoding one) with an
     * error saying why; a newcomer still waiting for its prompt's turn stays.
     */
    private void failStep(Throwable e, Sequence filling) {
        String why = e.getMessage() != null ? e.getMessage() : e.toString();
        still.clear();
        for (Sequence s : active) {
            if (s == filling || s.prefilled == s.prompt.length) {
                fail(s, "step_failed", "request " + s.id + " stopped after " + s.generation.produced() + " tokens: " + why);
            } else {
                still.add(s);
            }
        }
        active.clear();
        active.addAll(still);
    }

    private void fail(Sequence s, String code, String message) {
        if (s.finished) {
            return; // it has had its reply
        }
        finish(s, StopReason.ERROR);
        s.stream.error(code, message);
    }

    /** Chooses the next token of s from logits and sends it; returns whether s has finished. */
    private boolean emit(Sequence s, float[] logits) {
        StopReason reason = s.generation.stopsAtOnce();
        if (reason == null) {
            reason = s.generation.next(logits);
            generated.incrementAndGet();
        }
        if (reason != null) {
            complete(s, reason);
            return true;
        }
        return false;
    }

    private void complete(Sequence s, StopReason reason) {
        s.generation.finish(reason);
        finish(s, reason);
        s.stream.done(reason, s.prompt.length, s.generation.produced(), s.prefillNanos, System.nanoTime() - s.decodeStart);
    }

    private void finish(Sequence s, StopReason reason) {
        if (s.finished) {
            return;
        }
        s.finished = true;
        release(s.kv);
        s.event.end();
        if (s.event.shouldCommit()) {
            s.event.request = s.id;
            s.event.promptTokens = s.prompt.length;
            s.event.generatedTokens = s.generation.produced();
            s.event.stopReason = reason.toString();
            s.event.commit();
        }
        ended(reason);
    }

    private void ended(StopReason reason) {
        outcomes.incrementAndGet(reason.ordinal());
        done.incrementAndGet();
    }

    /** Keeps a finished sequence's KV cache for the next one (up to one per place). */
    private void release(KvCache kv) {
        if (kv != null && freeCaches.size() < maxSequences) {
            freeCaches.add(kv);
        }
    }
}
