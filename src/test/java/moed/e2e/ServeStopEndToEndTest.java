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
