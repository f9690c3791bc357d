package moed.runtime;

import java.io.IOException;
import java.nio.file.Path;
import moed.cache.ExpertSource;
import moed.cache.MappedExpertSource;
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
    private final ParallelExecutor executor;
    private final ExpertSource experts;
    private final Transformer transformer;
    private final int contextLength;
    private final int batch;

    private Engine(GgufFile file, Model model, Tokenizer tokenizer, ParallelExecutor executor, ExpertSource experts,
                   int contextLength, int batch) {
        this.file = file;
        this.model = model;
        this.tokenizer = tokenizer;
        this.executor = executor;
        this.experts = experts;
        this.transformer = new Transformer(model, experts, new MatMat(executor));
        this.contextLength = contextLength;
        this.batch = batch;
    }

    /**
     * Opens a model. {@code contextLength} 0 means the model's own (capped at 4096 to bound the KV cache);
     * {@code batch} is the number of prompt tokens a prefill step runs together.
     */
    public static Engine open(Path path, int threads, int contextLength, int batch) throws IOException {
        GgufFile f = GgufFile.open(path);
        try {
            Model m = Model.load(f);
            Tokenizer t = Tokenizer.from(f);
            int ctx = contextLength > 0 ? contextLength : Math.min(m.config().contextLength(), 4096);
            ExpertSource src = m.config().isMoe() ? new MappedExpertSource(m.expertLayout()) : null;
            return new Engine(f, m, t, new ParallelExecutor(threads), src, ctx, batch);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
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

    public int threads() {
        return executor.threads();
    }

    public InferenceState newState() {
        return transformer.newState(contextLength, batch);
    }

    public void observe(RouterObserver observer, int sequenceId) {
        transformer.observe(observer, sequenceId);
    }

    /** Encodes a prompt, refusing an empty one or one that leaves no room to generate. */
    public int[] encodePrompt(String prompt) {
        if (prompt == null || prompt.isEmpty()) {
            throw new IllegalArgumentException("the prompt is empty: give some text to continue");
        }
        int[] ids = tokenizer.encode(prompt, tokenizer.vocabulary().addBos());
        if (ids.length >= contextLength) {
            throw new IllegalArgumentException("the prompt is " + ids.length + " tokens, the context holds " + contextLength
                    + ": shorten the prompt or raise -c");
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
            transformer.forward(s, ids, off, n, lastChunk ? n - 1 : -1);
            last = n - 1;
        }
        return last;
    }

    /** Generates up to maxTokens after the prompt; stops early at end-of-sequence or when the listener says so. */
    public Generation generate(String prompt, int maxTokens, SamplerConfig cfg, TokenListener listener) {
        int[] ids = encodePrompt(prompt);
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
            transformer.forward(s, one, 0, 1, 0);
            logits = s.logits(0);
        }
        String tail = decoder.finish();
        text.append(tail);
        long t2 = System.nanoTime();
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
        executor.close();
        if (experts != null) {
            experts.close();
        }
        file.close();
    }
}
