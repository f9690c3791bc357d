package moed.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Keeps tests out of the user's real {@code ~/.moed}. The build points {@code user.home} at a folder under target/
 * (the root pom's surefire settings), so the default state dir is a throwaway one; this guard fails a test class
 * run outside that setting, or one of whose commands still fell back to the default state dir instead of saying
 * where its statistics go (--state-dir or --no-stats).
 */
final class DefaultStateDirGuard implements BeforeAllCallback, AfterAllCallback {
    private static Path defaultStateDir() {
        return Path.of(System.getProperty("user.home"), ".moed");
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        String realHome = System.getenv("HOME");
        if (realHome != null) {
            assertNotEquals(Path.of(realHome).toAbsolutePath(), Path.of(System.getProperty("user.home")).toAbsolutePath(),
                    "tests run with user.home set to the real home: their statistics would land in ~/.moed"
                            + " (run them through Maven, whose surefire settings point user.home under target/)");
        }
        context.getStore(ExtensionContext.Namespace.GLOBAL).put(DefaultStateDirGuard.class, listing());
    }

    @Override
    public void afterAll(ExtensionContext context) {
        // Compared with what was there before, so that a folder left by an earlier failed run fails only that run.
        String before = context.getStore(ExtensionContext.Namespace.GLOBAL).get(DefaultStateDirGuard.class, String.class);
        assertEquals(before, listing(), context.getDisplayName() + " wrote into the default state dir "
                + defaultStateDir() + ": give its commands --state-dir (under the test's folder) or --no-stats");
    }

    /** The default state dir's files with their sizes and modification times, or "absent". */
    private static String listing() {
        Path d = defaultStateDir();
        if (!Files.isDirectory(d)) {
            return "absent";
        }
        try (var files = Files.list(d)) {
            return files.sorted().map(f -> {
                try {
                    return f.getFileName() + " " + Files.size(f) + " " + Files.getLastModifiedTime(f);
                } catch (java.io.IOException e) {
                    return f.getFileName() + " ?";
                }
            }).collect(java.util.stream.Collectors.joining("\n"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
