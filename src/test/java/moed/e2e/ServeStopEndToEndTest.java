package moed.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import jdk.jfr.consumer.RecordingFile;
import moed.tools.ipc.MoedClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code moed serve} as its own process, stopped by SIGTERM: the JFR recording survives every orderly stop. */
class ServeStopEndToEndTest {
    @TempDir
    Path tmp;

    @Test
    void theRecordingSurvivesSigterm() throws Exception {
        for (int round = 0; round < 2; round++) {
            Path state = tmp.resolve("state-" + round);
            Path ipc = tmp.resolve("ipc-" + round);
            Process p = ChildJvm.builder(List.of(), moed.tools.cli.MoedCli.class.getName(), "serve", "-m",
                    CliEndToEndTest.MODEL.toString(), "--state-dir", state.toString(), "--ipc-dir", ipc.toString(), "--cache-mb", "4",
                    "-t", "1").redirectErrorStream(true).redirectOutput(tmp.resolve("serve-" + round + ".log").toFile()).start();
            try {
                MoedClient c = connectWithin(ipc, 60_000);
                try (c) {
                    c.submit("The old king looked at the sea and said", MoedClient.Options.greedy(8), (id, piece) -> { })
                            .end().get(60, TimeUnit.SECONDS);
                }
                p.destroy(); // SIGTERM
                assertTrue(p.waitFor(30, TimeUnit.SECONDS), "serve stops within 30 s of SIGTERM");
            } finally {
                p.destroyForcibly();
            }
            String log = Files.readString(tmp.resolve("serve-" + round + ".log"));
            assertEquals(0, p.exitValue(), log);
            Path jfr = state.resolve("serve.jfr");
            long requests = 0;
            try (RecordingFile f = new RecordingFile(jfr)) {
                while (f.hasMoreEvents()) {
                    if (f.readEvent().getEventType().getName().equals("moed.Request")) {
                        requests++;
                    }
                }
            }
            assertEquals(1, requests, "round " + round + ": the recording holds the request; log:\n" + log);
            assertTrue(Files.notExists(ipc.resolve("requests.ring")), "the IPC files are removed");
        }
    }

    @Test
    void sigtermWhileLoadingStopsCleanly() throws Exception {
        Path state = tmp.resolve("state-early");
        Path ipc = tmp.resolve("ipc-early");
        Path log = tmp.resolve("serve-early.log");
        Process p = ChildJvm.builder(List.of(), moed.tools.cli.MoedCli.class.getName(), "serve", "-m",
                CliEndToEndTest.MODEL.toString(), "--state-dir", state.toString(), "--ipc-dir", ipc.toString(), "--cache-mb", "4",
                "--backing", "direct", "--warm", "1", "-t", "1").redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            // As soon as it says it is loading: the signal lands while it loads or warms (or, on a fast machine,
            // just after it began serving; either way it must stop cleanly).
            long deadline = System.currentTimeMillis() + 60_000;
            while (!Files.readString(log).contains("moed serve: loading")) {
                assertTrue(System.currentTimeMillis() < deadline, "serve never started loading: " + Files.readString(log));
                Thread.sleep(5);
            }
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "serve stops within 30 s of SIGTERM");
        } finally {
            p.destroyForcibly();
        }
        String out = Files.readString(log);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("moed serve: stopped"), out);
        System.out.println("SIGTERM while loading: " + out.lines().filter(l -> l.contains("stopping")).findFirst().orElse("?"));
        assertTrue(Files.notExists(ipc.resolve("requests.ring")), "no IPC files left");
        // The statistics it may have opened reopen.
        try (moed.runtime.Engine e = moed.runtime.Engine.open(CliEndToEndTest.MODEL, 1, 64, 8,
                moed.runtime.config.CacheOptions.of(moed.runtime.config.CacheOptions.Tier.of(4L << 20))
                        .with(new moed.runtime.config.CacheOptions.Statistics(state, 0, 5000)))) {
            assertTrue(e.statisticsStore() != null);
        }
    }

    static MoedClient connectWithin(Path ipc, long millis) throws Exception {
        long deadline = System.currentTimeMillis() + millis;
        while (true) {
            try {
                return MoedClient.connect(ipc);
            } catch (java.io.IOException e) {
                if (System.currentTimeMillis() > deadline) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }
}
