package moed.runtime.model;

/**
 * One sequence's memory between steps: its KV cache, how many positions it holds, and the sequence id routing
 * decisions are reported under. Steps over it run in a {@link StepScratch} that belongs to the compute thread, so
 * a sequence costs its cache and nothing more. Owned by one thread at a time.
 */
public final class KvCache {
    final int contextLength;
    /**
     * Per layer, as F16 bits in the kv-head-major layout {@code Attention.store} writes and {@code Attention.attend}
     * reads. With latent attention the keys hold the latent and rotary key (one "head" of their width) and the values
     * are empty.
     */
    final short[][] keys;
    final short[][] values;
    int position;
    private long sequenceId;

    public KvCache(ModelConfig c, int contextLength, long sequenceId) {
        if (contextLength < 1) {
            throw new IllegalArgumentException("context length must be positive, got " + contextLength);
        }
        this.contextLength = contextLength;
        this.keys = new short[c.layers()][contextLength * c.keyCacheWidth()];
        this.values = new short[c.layers()][contextLength * c.valueCacheWidth()];
        this.sequenceId = sequenceId;
    }

    /** Bytes a cache of {@code contextLength} positions takes (F16 keys and values of every layer). */
    public static long bytes(ModelConfig c, int contextLength) {
        return 2L * c.layers() * (long) contextLength * (c.keyCacheWidth() + c.valueCacheWidth());
    }

    /** Number of positions already in the cache: the position the next token takes. */
    public int position() {
        return position;
    }

    public int contextLength() {
        return contextLength;
    }

    /** The id routing decisions over this cache are reported under. */
    public long sequenceId() {
        return sequenceId;
    }

    /** Empties the cache for a new sequence (the contents are simply overwritten later), reported as {@code sequenceId}. */
    public void reset(long sequenceId) {
        this.position = 0;
        this.sequenceId = sequenceId;
    }

    /** Forgets the positions from {@code to} on, keeping the first {@code to} (their KV rows stay valid). */
    public void rewind(int to) {
        if (to < 0 || to > position) {
            throw new IllegalArgumentException("can rewind to 0.." + position + " positions, not " + to);
        }
        position = to;
    }
}
