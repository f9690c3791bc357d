package moed.runtime.sampling;

/**
 * Sampling parameters. temperature 0 means greedy. Checked on construction, so a bad value from a client or a
 * flag is refused with the parameter's name.
 */
public record SamplerConfig(float temperature, int topK, float topP, float minP, float repeatPenalty, int repeatLastN,
                            long seed) {
    public static final SamplerConfig GREEDY = new SamplerConfig(0f, 0, 1f, 0f, 1f, 64, 0);

    public SamplerConfig {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top-k must be >= 0 (0 = off), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        }
        if (!(minP >= 0 && minP < 1)) {
            throw new IllegalArgumentException("min-p must be in [0, 1), got " + minP);
        }
        if (!(repeatPenalty > 0) || Float.isInfinite(repeatPenalty)) {
            throw new IllegalArgumentException("repeat penalty must be > 0 (1 = off), got " + repeatPenalty);
        }
        if (repeatLastN < 0) {
            throw new IllegalArgumentException("repeat-last-n must be >= 0, got " + repeatLastN);
        }
    }

    public boolean greedy() {
        return temperature == 0f;
    }
}
