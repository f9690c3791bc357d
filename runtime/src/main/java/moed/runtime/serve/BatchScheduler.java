package moed.runtime.serve;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import moed.jfr.Events;
import moed.runtime.Engine;
import moed.runtime.model.InferenceState;
import moed.runtime.sampling.Sampler;
import moed.runtime.sampling.SamplerConfig;
import moed.runtime.tokenizer.StreamingDecoder;

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
        void token(int id, String piece);

        void done(String reason, int promptTokens, int generatedTokens, long prefillNanos, long decodeNanos);

        void error(String code, String message);
    }

    /** A snapshot for status displays. */
    public record Status(int active, int queued, long requestsDone, long tokensGenerated, double decodeTokensPerSecond) {
    }

    private record Submission(long id, String prompt, Params params, Stream stream) {
    }

    private final class Sequence {
        final long id;
        final Params params;
        final Stream stream;
        final InferenceState kv;
        final Sampler sampler;
        final StreamingDecoder decoder;
        final Events.Request event = new Events.Request();
        final StringBuilder text = new StringBuilder();
        int promptTokens;
        int[] prompt;
        int prefilled; // prompt tokens already in the KV cache; the sequence decodes once all are
        long admitted;
        int produced;
        int limit;
        int next;
        int emitted; // chars of text already sent
        long prefillNanos;
        long decodeStart;

        Sequence(Submission s) {
            this.id = s.id();
            this.params = s.params();
            this.stream = s.stream();
            InferenceState reused = freeStates.poll();
            if (reused != null) {
                reused.reset();
            }
            this.kv = reused != null ? reused : engine.newSequenceState();
            this.sampler = new Sampler(params.sampler(), vocab);
            this.decoder = new StreamingDecoder(engine.tokenizer());
        }
    }

    private final Engine engine;
    private final int maxSequences;
    private final int vocab;
    private final Queue<Submission> incoming = new ConcurrentLinkedQueue<>();
    private final Queue<Long> cancels = new ConcurrentLinkedQueue<>();
    private final ArrayDeque<Submission> waiting = new ArrayDeque<>();
    private final List<Sequence> active = new ArrayList<>();
    /** KV caches of finished sequences, reused by the next ones (a cache is contextLength x layers x (key + value widths) floats). */
    private final ArrayDeque<InferenceState> freeStates = new ArrayDeque<>();
    private final InferenceState scratch;
    private final InferenceState[] rowKv;
    private final int[] rowSeq;
    private final int[] rowToken;
    private final AtomicLong done = new AtomicLong();
    private final AtomicLong generated = new AtomicLong();
    private volatile int activeCount;
    private volatile int queuedCount;
    private volatile double recentTokensPerSecond;
    private volatile Thread worker;
    private volatile boolean stopping;

    public BatchScheduler(Engine engine, int maxSequences) {
        if (maxSequences < 1) {
            throw new IllegalArgumentException("--max-sequences must be >= 1, got " + maxSequences);
        }
        var c = engine.model().config();
        long kvBytes = 2L /* F16 */ * c.layers() * (long) engine.contextLength() * (c.keyCacheWidth() + c.valueCacheWidth());
        long heap = Runtime.getRuntime().maxMemory();
        if (kvBytes * maxSequences > heap * 3 / 4) {
            throw new IllegalArgumentException(String.format(
                    "%d sequences of %d tokens need %.2f GiB of KV cache (%.3f GiB each), more than this JVM's %.2f GiB heap"
                            + " can spare: lower -c or --max-sequences, or raise the heap (MOED_JAVA_OPTS=-Xmx...)",
                    maxSequences, engine.contextLength(), kvBytes * maxSequences / (double) (1L << 30),
                    kvBytes / (double) (1L << 30), heap / (double) (1L << 30)));
        }
        this.engine = engine;
        this.maxSequences = maxSequences;
        this.vocab = c.vocab();
        int rows = Math.max(maxSequences, engine.batch());
        this.scratch = engine.newScratchState(rows);
        this.rowKv = new InferenceState[rows];
        this.rowSeq = new int[rows];
        this.rowToken = new int[rows];
    }

    /** Queues a request (any thread); returns its id. Its prompt is checked on admission; problems come back as errors. */
    public long submit(String prompt, Params params, Stream stream) {
        long id = engine.newRequestId();
        incoming.add(new Submission(id, prompt, params, stream));
        wake();
        return id;
    }

    /** Asks to stop a request (any thread); it ends with done("cancelled"). Unknown or finished ids are ignored. */
    public void cancel(long id) {
        cancels.add(id);
        wake();
    }

    public Status status() {
        return new Status(activeCount, queuedCount, done.get(), generated.get(), recentTokensPerSecond);
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
            if (!runOnce()) {
                LockSupport.parkNanos(50_000_000L);
            }
        }
        // Whatever is still in flight gets a reply: the server is going away.
        drainIncoming();
        for (Sequence s : active) {
            finish(s, null);
            s.stream.error("shutdown", "the server is shutting down; request " + s.id + " stopped after " + s.produced + " tokens");
        }
        active.clear();
        for (Submission s : waiting) {
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
                    complete(s, "cancelled");
                    break;
                }
            }
            for (var it = waiting.iterator(); it.hasNext(); ) {
                Submission w = it.next();
                if (w.id() == target) {
                    it.remove();
                    w.stream().done("cancelled", 0, 0, 0, 0);
                    done.incrementAndGet();
                }
            }
        }
        return any;
    }

    private void admit(Submission sub) {
        int[] ids;
        try {
            ids = engine.encodePrompt(sub.prompt());
        } catch (IllegalArgumentException e) {
            sub.stream().error("bad_request", e.getMessage());
            done.incrementAndGet();
            return;
        }
        Sequence s = new Sequence(sub);
        s.event.begin();
        s.prompt = ids;
        s.promptTokens = ids.length;
        s.limit = Math.min(sub.params().maxTokens(), engine.contextLength() - ids.length);
        for (int id : ids) {
            s.sampler.accept(id);
        }
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
                rowSeq[n] = (int) filling.id;
                rowToken[n++] = filling.prompt[filling.prefilled + i];
            }
        }
        for (Sequence s : active) {
            if (s.prefilled == s.prompt.length) {
                rowKv[n] = s.kv;
                rowSeq[n] = (int) s.id;
                rowToken[n++] = s.next;
            }
        }
        boolean promptDone = filling != null && filling.prefilled + chunk == filling.prompt.length;
        int logitsFrom = promptDone ? chunk - 1 : decoding > 0 ? chunk : -1;
        long t0 = System.nanoTime();
        engine.stepRows(scratch, rowKv, rowSeq, rowToken, n, logitsFrom, decoding > 0 ? 1 : 0, chunk);
        long took = System.nanoTime() - t0;
        if (decoding > 0) {
            recentTokensPerSecond = decoding * 1e9 / Math.max(took, 1);
        }
        // Sample every row first (logits live in the shared scratch), then drop the finished sequences.
        List<Sequence> still = new ArrayList<>(active.size());
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

    /** Samples the next token of s from logits and sends it; returns whether s has finished. */
    private boolean emit(Sequence s, float[] logits) {
        if (s.limit <= 0) {
            complete(s, "context");
            return true;
        }
        int next = s.sampler.sample(logits, vocab);
        s.produced++;
        generated.incrementAndGet();
        s.sampler.accept(next);
        if (engine.tokenizer().vocabulary().isEndOfGeneration(next)) {
            complete(s, "eos");
            return true;
        }
        s.text.append(s.decoder.accept(next));
        String reason = null;
        int cut = -1;
        for (String stop : s.params.stops()) {
            int at = s.text.indexOf(stop, Math.max(0, s.emitted - stop.length() + 1));
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
            }
        }
        int upTo = s.text.length();
        if (cut >= 0) {
            upTo = cut;
            reason = "stop";
        } else {
            // Hold back a tail that could still become a stop string.
            for (String stop : s.params.stops()) {
                for (int len = Math.min(stop.length() - 1, s.text.length() - s.emitted); len > 0; len--) {
                    if (tailIs(s.text, stop, len)) {
                        upTo = Math.min(upTo, s.text.length() - len);
                        break;
                    }
                }
            }
        }
        if (upTo > s.emitted) {
            s.stream.token(next, s.text.substring(s.emitted, upTo));
            s.emitted = upTo;
        } else {
            s.stream.token(next, "");
        }
        if (reason == null && s.produced >= s.limit) {
            reason = s.limit < s.params.maxTokens() ? "context" : "length";
        }
        if (reason != null) {
            complete(s, reason);
            return true;
        }
        s.next = next;
        return false;
    }

    /** Whether text ends with the first len characters of stop. */
    private static boolean tailIs(StringBuilder text, String stop, int len) {
        int from = text.length() - len;
        for (int i = 0; i < len; i++) {
            if (text.charAt(from + i) != stop.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    private void complete(Sequence s, String reason) {
        if (!reason.equals("stop")) {
            String tail = s.decoder.finish();
            s.text.append(tail);
            if (s.text.length() > s.emitted) {
                s.stream.token(-1, s.text.substring(s.emitted));
                s.emitted = s.text.length();
            }
        }
        finish(s, reason);
        s.stream.done(reason, s.promptTokens, s.produced, s.prefillNanos, System.nanoTime() - s.decodeStart);
    }

    private void finish(Sequence s, String reason) {
        if (freeStates.size() < maxSequences) {
            freeStates.add(s.kv);
        }
        s.event.end();
        if (s.event.shouldCommit()) {
            s.event.request = s.id;
            s.event.promptTokens = s.promptTokens;
            s.event.generatedTokens = s.produced;
            s.event.stopReason = reason == null ? "shutdown" : reason;
            s.event.commit();
        }
        done.incrementAndGet();
    }
}
