package moed.tools.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import picocli.CommandLine.Option;

/** Options shared by the commands that load a model: which file, threads, context, prefill batch. */
final class ModelOptions {
    @Option(names = {"-m", "--model"}, description = "GGUF model file (default: the embedded models/moed-tinymoe-16x4-q8_0.gguf)")
    Path model;

    @Option(names = {"-t", "--threads"}, description = "compute threads (default: all cores, ${DEFAULT-VALUE} here)",
            defaultValue = "0")
    int threads;

    @Option(names = {"-c", "--ctx-size"}, description = "context length in tokens (default: the model's, at most 4096)",
            defaultValue = "0")
    int context;

    @Option(names = {"-b", "--batch-size"}, description = "prompt tokens per prefill step (default: ${DEFAULT-VALUE})",
            defaultValue = "64")
    int batch;

    Path model() {
        if (model != null) {
            return model;
        }
        String home = System.getProperty("moed.home", ".");
        Path p = Paths.get(home, "models", "moed-tinymoe-16x4-q8_0.gguf");
        if (!Files.exists(p)) {
            throw new IllegalArgumentException("no model given and the default " + p + " is missing: pass -m FILE");
        }
        return p;
    }

    int threads() {
        if (threads < 0) {
            throw new IllegalArgumentException("-t must be positive, got " + threads);
        }
        return threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
    }

    int batch() {
        if (batch < 1) {
            throw new IllegalArgumentException("-b must be at least 1, got " + batch);
        }
        return batch;
    }
}
