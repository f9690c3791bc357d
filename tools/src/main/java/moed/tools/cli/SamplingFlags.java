package moed.tools.cli;

import moed.runtime.sampling.SamplerConfig;
import picocli.CommandLine.Option;

/** Sampling flags shared by run and submit (llama.cpp's names and defaults). */
final class SamplingFlags {
    @Option(names = "--temp", defaultValue = "0", description = "temperature; 0 = greedy (default: ${DEFAULT-VALUE})")
    float temp;

    @Option(names = "--top-k", defaultValue = "40", description = "keep the k most likely tokens; 0 = off (default: ${DEFAULT-VALUE})")
    int topK;

    @Option(names = "--top-p", defaultValue = "0.95", description = "nucleus sampling mass (default: ${DEFAULT-VALUE})")
    float topP;

    @Option(names = "--min-p", defaultValue = "0.05", description = "drop tokens below this share of the top one's probability (default: ${DEFAULT-VALUE})")
    float minP;

    @Option(names = "--repeat-penalty", defaultValue = "1.0", description = "penalty on recently used tokens; 1 = off (default: ${DEFAULT-VALUE})")
    float repeatPenalty;

    @Option(names = "--repeat-last-n", defaultValue = "64", description = "how many recent tokens the penalty looks at (default: ${DEFAULT-VALUE})")
    int repeatLastN;

    @Option(names = "--seed", defaultValue = "42", description = "random seed (default: ${DEFAULT-VALUE})")
    long seed;

    /** The sampler configuration; a bad value is refused with its name. */
    SamplerConfig config() {
        return new SamplerConfig(temp, topK, topP, minP, repeatPenalty, repeatLastN, seed);
    }
}
