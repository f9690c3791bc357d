package moed.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import moed.runtime.Engine;
import moed.runtime.sampling.SamplerConfig;
import moed.tools.ipc.IpcDirectory;
import moed.tools.ipc.MoedClient;
import moed.tools.ipc.MoedServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 23's client churn: a hundred clients connecting, asking, leaving (a few killed mid-answer without a word),
 * one after another against one server. Every answer is the solo greedy one, and afterwards the server holds no
 * client, no ring file and no file descriptor more than before, and its heap is where it was.
 */
class ClientChurnEndToEndTest {
    static final int CLIENTS = 100;
    static final int KILLED = 3;
    static final int TOKENS = 4;

    @TempDir
    Path dir;

    static int openFiles() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return (int) fds.count();
        }
    }

    static long heapAfterGc() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    static int filesIn(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return (int) s.count();
        }
    }

    @Test
    void aHundredClientsComeAndGoAndLeaveNothingBehind() throws Exception {
        String[] solo = new String[ServeEndToEndTest.PROMPTS.length];
        try (Engine e = Engine.open(CliEndToEndTest.MODEL, 1, 512, 16)) {
            for (int i = 0; i < solo.length; i++) {
                solo[i] = e.generate(ServeEndToEndTest.PROMPTS[i], TOKENS, SamplerConfig.GREEDY, null).text();
            }
        }
        try (Engine e = ServeEndToEndTest.engine();
             MoedServer server = new MoedServer(e, new IpcDirectory(dir), 4, ServeEndToEndTest.TIMEOUT_MS, System.err)) {
            try (MoedClient warm = MoedClient.connect(dir)) {
                assertEquals(solo[0], ServeEndToEndTest.answer(warm, ServeEndToEndTest.PROMPTS[0], TOKENS));
            }
            int fdsBefore = openFiles();
            int filesBefore = filesIn(dir);
            long heapBefore = heapAfterGc();
            long t0 = System.nanoTime();
            for (int c = 0; c < CLIENTS; c++) {
                int p = c % solo.length;
                try (MoedClient client = MoedClient.connect(dir)) {
                    assertEquals(solo[p], ServeEndToEndTest.answer(client, ServeEndToEndTest.PROMPTS[p], TOKENS), "client " + c);
                }
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            for (int k = 0; k < KILLED; k++) {
                Process child = ServeEndToEndTest.submitProcess(dir, ServeEndToEndTest.PROMPTS[k], 400);
                assertTrue(child.getInputStream().read() >= 0, "the child streamed something");
                child.destroyForcibly();
                child.waitFor(30, TimeUnit.SECONDS);
            }
            try (MoedClient last = MoedClient.connect(dir)) {
                ServeEndToEndTest.awaitStatus(last, j -> j.get("clients").asInt() == 1 && j.get("active_sequences").asInt() == 0,
                        30_000);
                assertEquals(solo[1], ServeEndToEndTest.answer(last, ServeEndToEndTest.PROMPTS[1], TOKENS));
                assertEquals(1 + CLIENTS + KILLED + 1, server.scheduler().status().requestsDone());
            }
            int fdsAfter = openFiles();
            int filesAfter = filesIn(dir);
            long heapAfter = heapAfterGc();
            System.out.printf("client churn: %d clients in %.1f s (+%d killed); open files %d -> %d; files in the IPC"
                            + " directory %d -> %d; heap after GC %.1f -> %.1f MiB%n", CLIENTS, seconds, KILLED, fdsBefore,
                    fdsAfter, filesBefore, filesAfter, heapBefore / 1048576.0, heapAfter / 1048576.0);
            assertTrue(fdsAfter <= fdsBefore + 2, "open files " + fdsBefore + " -> " + fdsAfter);
            assertEquals(filesBefore, filesAfter, "every departed client's ring file is gone");
            assertTrue(heapAfter < heapBefore + (32L << 20), "heap " + heapBefore + " -> " + heapAfter);
        }
    }
}
