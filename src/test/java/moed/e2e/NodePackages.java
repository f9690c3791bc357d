package moed.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * npm packages the tests run second implementations and real clients from, installed once under target/ (never
 * committed); where Node, npm or the registry is missing, {@link #install} says why and returns false, so the test
 * can skip with that message.
 */
final class NodePackages {
    private NodePackages() {
    }

    /**
     * Installs {@code packages} into {@code dir} unless {@code dir/node_modules/<marker>} is already there; extra npm
     * flags go before the packages. Returns whether the packages are there now.
     */
    static synchronized boolean install(Path dir, String marker, List<String> npmFlags, String... packages)
            throws IOException, InterruptedException {
        if (Files.isDirectory(dir.resolve("node_modules").resolve(marker))) {
            return true;
        }
        if (!have("node") || !have("npm")) {
            System.out.println("no node or npm on PATH: cannot install " + String.join(" ", packages));
            return false;
        }
        Files.createDirectories(dir);
        List<String> cmd = new ArrayList<>(List.of("npm", "install", "--no-audit", "--no-fund", "--prefix", dir.toString()));
        cmd.addAll(npmFlags);
        cmd.addAll(List.of(packages));
        Process npm = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(npm.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        boolean ok = npm.waitFor(600, TimeUnit.SECONDS) && npm.exitValue() == 0;
        if (!ok) {
            System.out.println("npm install " + String.join(" ", packages) + " failed:\n" + out);
        }
        return ok;
    }

    /** Whether {@code command --version} runs here. */
    static boolean have(String command) throws InterruptedException {
        try {
            return new ProcessBuilder(command, "--version").redirectErrorStream(true).start().waitFor() == 0;
        } catch (IOException e) {
            return false;
        }
    }
}
