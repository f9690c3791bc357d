package moed.runtime.config;

/**
 * The settings a person chooses, by the names runtime errors use. The runtime never names a command-line flag:
 * a front end (the CLI, the daemon) maps each setting to its own spelling when it reports a {@link SettingException}.
 */
public enum Setting {
    CONTEXT_LENGTH("context length"),
    PREFILL_BATCH("prefill batch"),
    CACHE_SIZE("expert cache size"),
    BACKING("backing"),
    CACHE_POLICY("cache policy"),
    ON_MISS("on-miss action"),
    IO_THREADS("loader threads"),
    WARM_FRACTION("warm fraction"),
    PREDICTOR("predictor"),
    LOOKAHEAD("look-ahead"),
    PREFETCH_MARGIN("prefetch margin"),
    TENSOR_OVERRIDE("tensor override"),
    EXPERT_REDUCTION("smart expert reduction"),
    CACHE_AWARE_ROUTING("cache-aware routing"),
    SKIPPED_LAYERS("skipped layers"),
    MAX_SEQUENCES("concurrent sequences"),
    PERPLEXITY_CHUNKS("perplexity chunks"),
    SHARED_EXPERT_HIDDEN("shared expert hidden size"),
    EXPERT_HIDDEN("expert hidden size");

    private final String label;

    Setting(String label) {
        this.label = label;
    }

    /** How error messages name the setting ("context length"). */
    @Override
    public String toString() {
        return label;
    }
}
