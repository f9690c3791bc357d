package moed.runtime;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.jupiter.api.Assumptions;

/** Locates the repository's embedded model and the optional ../shared material for tests. */
public final class TestFiles {
    private TestFiles() {
    }

    public static Path repo() {
        String p = System.getProperty("moed.repo.dir");
        if (p != null) {
            return Paths.get(p);
        }
        Path d = Paths.get("").toAbsolutePath();
        while (d != null && !Files.isDirectory(d.resolve("models"))) {
            d = d.getParent();
        }
        if (d == null) {
            throw new IllegalStateException("cannot find the repository root (a folder with models/) from " + Paths.get("").toAbsolutePath());
        }
        return d;
    }

    /** The embedded default model (Q8_0). */
    public static Path defaultModel() {
        return repo().resolve("models/moed-tinymoe-16x4-q8_0.gguf");
    }

    /** A file of ../shared, or the test is skipped with a message saying so. */
    public static Path shared(String relative) {
        String p = System.getProperty("moed.shared.dir");
        Path base = p != null ? Paths.get(p) : repo().resolve("../shared");
        Path f = base.resolve(relative).normalize();
        Assumptions.assumeTrue(Files.exists(f), "skipped: " + f + " is absent (the ../shared folder beside the repository)");
        return f;
    }
}
