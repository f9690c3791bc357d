package moed.runtime.model;

/**
 * One sequence run on its own: its {@link KvCache} with a {@link StepScratch} of {@code batch} rows for its steps
 * (a prompt chunk, or one decode token). What a single generation, perplexity or a benchmark holds; the batch
 * scheduler instead keeps bare caches and one shared scratch. Owned by one thread at a time.
 */
public final class InferenceState {
    final KvCache kv;
    final StepScratch scratch;

    public InferenceState(ModelConfig c, int contextLength, int batch, long sequenceId) {
        this.kv = new KvCache(c, contextLength, sequenceId);
        this.scratch = new StepScratch(c, batch);
    }

    public KvCache kv() {
        return kv;
    }

    /** Number of positions already in the KV cache: the position the next token takes. */
    public int position() {
        return kv.position;
    }

    public int contextLength() {
        return kv.contextLength;
    }

    /** Tokens one step may hold. */
    public int batch() {
        return scratch.batch;
    }

    /** Forgets the sequence (the cache contents are simply overwritten later). */
    public void reset() {
        kv.reset(kv.sequenceId());
    }

    /** Forgets the positions from {@code to} on, keeping the first {@code to} (their KV rows stay valid). */
    public void rewind(int to) {
        kv.rewind(to);
    }

    /** The logits of the i-th token of the last step that asked for them. */
    public float[] logits(int i) {
        return scratch.logits[i];
    }
}
