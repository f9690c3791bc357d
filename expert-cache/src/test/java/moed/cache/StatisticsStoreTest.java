package moed.cache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StatisticsStoreTest {
    @TempDir
    Path dir;

    @Test
    void shouldCountRoutesAndTransitionsAndPersistThem() throws Exception {
        ExpertStatistics s = new ExpertStatistics(3, 4, 2);
        // One token: layer 0 chose {1, 2}, layer 1 {0, 3}, layer 2 {2, 3}.
        s.recordRoute(0, 0, new int[] {1, 2}, 2);
        s.recordRoute(0, 1, new int[] {0, 3}, 2);
        s.recordRoute(0, 2, new int[] {2, 3}, 2);
        assertEquals(1, s.activations(0, 1));
        assertEquals(1, s.transition(0, 1, 3));
        assertEquals(1, s.transition(1, 3, 2));
        assertEquals(0, s.transition(0, 3, 1));
        try (StatisticsStore st = StatisticsStore.open(dir, "m1", 3, 4)) {
            st.attach(s, null, 0);
        }
        try (StatisticsStore st = StatisticsStore.open(dir, "m1", 3, 4)) {
            assertEquals(1, st.expert(0, 2)[StatisticsStore.ACTIVATIONS]);
            assertArrayEquals(new long[] {1, 0, 0, 1}, st.transitions(0, 2));
            assertEquals(6, st.hottest().size());
            st.reset();
            assertEquals(0, st.expert(0, 2)[StatisticsStore.ACTIVATIONS]);
        }
    }

    @Test
    void shouldAddFlushesWithoutDoubleCounting() throws Exception {
        ExpertStatistics s = new ExpertStatistics(2, 4, 1);
        try (StatisticsStore st = StatisticsStore.open(dir, "m2", 2, 4)) {
            st.attach(s, null, 0);
            s.recordRoute(0, 0, new int[] {3}, 1);
            st.flush();
            st.flush();
            s.recordRoute(1, 0, new int[] {3}, 1);
            st.flush();
            assertEquals(2, st.expert(0, 3)[StatisticsStore.ACTIVATIONS]);
        }
    }

    @Test
    void shouldKeepTheStatisticsPrivateToTheUser() throws Exception {
        // Routing statistics say what was asked of the model: other local users must not read them.
        Path state = dir.resolve("state");
        try (StatisticsStore st = StatisticsStore.open(state, "m3", 2, 4)) {
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(state)));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(st.file())));
        }
        // A file an older version left readable to all is tightened when opened.
        Path old = state.resolve("stats-m3.cmap");
        Files.setPosixFilePermissions(old, PosixFilePermissions.fromString("rw-r--r--"));
        try (StatisticsStore st = StatisticsStore.open(state, "m3", 2, 4)) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(st.file())));
        }
    }

    /** Runs in a child JVM: records routes, flushes, says so, then waits to be killed. */
    public static void main(String[] args) throws Exception {
        Path d = Path.of(args[0]);
        int n = Integer.parseInt(args[1]);
        ExpertStatistics s = new ExpertStatistics(2, 4, 1);
        StatisticsStore st = StatisticsStore.open(d, "killed", 2, 4);
        st.attach(s, null, 0);
        for (int i = 0; i < n; i++) {
            s.recordRoute(i, 0, new int[] {i % 4}, 1);
        }
        st.flush();
        System.out.println("FLUSHED");
        System.out.flush();
        // Keep counting without flushing until killed: those counts are the "one interval" a crash may lose.
        for (int i = 0; ; i++) {
            s.recordRoute(i, 1, new int[] {i % 4}, 1);
            Thread.onSpinWait();
        }
    }

    @Test
    void shouldSurviveSigkillAndReopenWithTheFlushedCounts() throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> a.startsWith("--add") || a.startsWith("-D") || a.startsWith("--enable") || a.startsWith("--sun")).toList());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(StatisticsStoreTest.class.getName());
        cmd.add(dir.toString());
        cmd.add("400");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
            String line;
            StringBuilder seen = new StringBuilder();
            while ((line = r.readLine()) != null && !line.equals("FLUSHED")) {
                seen.append(line).append('\n');
            }
            assertEquals("FLUSHED", line, "child output: " + seen);
            p.destroyForcibly(); // SIGKILL
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        }
        try (StatisticsStore st = StatisticsStore.open(dir, "killed", 2, 4)) {
            for (int e = 0; e < 4; e++) {
                assertEquals(100, st.expert(0, e)[StatisticsStore.ACTIVATIONS], "expert " + e + " after SIGKILL");
            }
        }
    }
}
