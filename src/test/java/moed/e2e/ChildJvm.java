package moed.e2e;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Starts another JVM on the tests' classpath with the flags this one runs with (Vector API, FFM, Chronicle). */
final class ChildJvm {
    private ChildJvm() {
    }

    static ProcessBuilder builder(List<String> jvmArgs, String mainClass, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(x -> x.startsWith("--add") || x.startsWith("-D") || x.startsWith("--enable") || x.startsWith("--sun")).toList());
        cmd.addAll(jvmArgs);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass);
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd);
    }
}
