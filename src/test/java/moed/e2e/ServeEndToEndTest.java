package moed.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import moed.cache.ExpertCache;
import moed.predictor.PredictorKind;
import moed.runtime.Engine;
import moed.runtime.config.CacheOptions;
import moed.runtime.sampling.SamplerConfig;
import moed.tools.ipc.IpcDirectory;
import moed.tools.ipc.MoedClient;
import moed.tools.ipc.MoedServer;
import moed.tools.ipc.Protocol;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon end to end: many clients at once, cancellation, a killed client, garbage, a second server, shutdown. */
class ServeEndToEndTest {
    static final String[] PROMPTS = {
        "The old king looked at the sea and said",
        "Once upon a time there was a little girl who",
        "It is a truth universally acknowledged, that a single man",
        "The ship sailed",
        "She opened the door and",
        "In the morning the village was quiet, and the children",
        "The wind",
        "He walked to the market with his father, and",
        "Long ago, in a land far away, there lived",
        "The cat sat by the fire and",
    };
    static final long TIMEOUT_MS = 1500;

    @TempDir
    Path dir;

    static int tokens(int i) {
        return 6 + (i * 7) % 19;
    }

    static Engine engine() throws Exception {
        // A cache of 40 of the 128 experts with the predictor: the server's real configuration, small.
        return Engine.open(CliEndToEndTest.MODEL, 2, 512, 16,
                CacheOptions.of(CacheOptions.Tier.of(4L << 20)).with(new CacheOptions.Prefetch(PredictorKind.GATE, 1, 0)));
    }

    /** What one request received. */
    static final class Got implements MoedClient.Listener {
        final List<Integer> ids = new ArrayList<>();
        final StringBuilder text = new StringBuilder();
        final CompletableFuture<Void> first = new CompletableFuture<>();

        @Override
        public void onToken(int id, String piece) {
            if (id >= 0) {
                ids.add(id);
            }
            text.append(piece);
            first.complete(null);
        }

        int[] idArray() {
            return ids.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    @Test
    void eightClientsTimesTenPromptsEachGetTheSoloAnswer() throws Exception {
        int[][] solo = new int[PROMPTS.length][];
        String[] soloText = new String[PROMPTS.length];
        try (Engine e = Engine.open(CliEndToEndTest.MODEL, 1, 512, 16)) {
            for (int i = 0; i < PROMPTS.length; i++) {
                Engine.Generation g = e.generate(PROMPTS[i], tokens(i), SamplerConfig.GREEDY, null);
                solo[i] = g.generatedIds();
                soloText[i] = g.text();
            }
        }
        try (Engine e = engine(); MoedServer server = new MoedServer(e, new IpcDirectory(dir), 8, TIMEOUT_MS, System.err)) {
            List<CompletableFuture<String>> clients = new ArrayList<>();
            for (int c = 0; c < 8; c++) {
                int client = c;
                clients.add(CompletableFuture.supplyAsync(() -> {
                    try (MoedClient mc = MoedClient.connect(dir)) {
                        List<MoedClient.Request> reqs = new ArrayList<>();
                        List<Got> got = new ArrayList<>();
                        for (int k = 0; k < PROMPTS.length; k++) {
                            int p = (client + k) % PROMPTS.length;
                            Got g = new Got();
                            got.add(g);
                            reqs.add(mc.submit(PROMPTS[p], MoedClient.Options.greedy(tokens(p)), g));
                        }
                        for (int k = 0; k < PROMPTS.length; k++) {
                            int p = (client + k) % PROMPTS.length;
                            MoedClient.Done d = reqs.get(k).end().get(120, TimeUnit.SECONDS);
                            assertEquals("length", d.reason());
                            assertArrayEquals(solo[p], got.get(k).idArray(), "client " + client + " prompt " + p);
                            assertEquals(soloText[p], got.get(k).text.toString(), "client " + client + " prompt " + p);
                        }
                        return "ok";
                    } catch (Exception ex) {
                        throw new RuntimeException(ex);
                    }
                }));
            }
            for (CompletableFuture<String> f : clients) {
                assertEquals("ok", f.get(180, TimeUnit.SECONDS));
            }
            assertEquals(80, server.scheduler().status().requestsDone());
        }
        assertFalse(Files.exists(dir.resolve("requests.ring")), "the server removes its IPC files");
    }

    @Test
    void cancelGarbageAndAKilledClientLeaveTheServerServing() throws Exception {
        try (Engine e = engine(); MoedServer server = new MoedServer(e, new IpcDirectory(dir), 4, TIMEOUT_MS, System.err);
             MoedClient client = MoedClient.connect(dir)) {
            String expected = answer(client, PROMPTS[0], 12);

            // Cancel after the first token.
            Got g = new Got();
            MoedClient.Request r = client.submit(PROMPTS[1], MoedClient.Options.greedy(400), g);
            g.first.get(60, TimeUnit.SECONDS);
            r.cancel();
            MoedClient.Done d = r.end().get(60, TimeUnit.SECONDS);
            assertEquals("cancelled", d.reason());
            assertTrue(d.generatedTokens() < 400);

            // Garbage into the request ring: random types and bytes, a wrong version, a truncated submit from a known
            // client, a submit with an impossible parameter. Each is counted and answered where it can be.
            long before = server.malformedMessages();
            try (IpcDirectory.MappedRing ring = IpcDirectory.openRing(dir.resolve("requests.ring"))) {
                SplittableRandom rnd = new SplittableRandom(9);
                UnsafeBuffer b = new UnsafeBuffer(new byte[512]);
                for (int i = 0; i < 200; i++) {
                    int len = rnd.nextInt(1, 300);
                    for (int j = 0; j < len; j++) {
                        b.putByte(j, (byte) rnd.nextInt(256));
                    }
                    if (i % 2 == 0) {
                        b.putShort(0, Protocol.VERSION, ByteOrder.LITTLE_ENDIAN);
                        b.putLong(4, client.clientId(), ByteOrder.LITTLE_ENDIAN);
                    }
                    int type = rnd.nextInt(1, 20);
                    if (type == Protocol.HELLO || type == Protocol.BYE) {
                        type = Protocol.SUBMIT; // a stranger's hello/bye with a random id is not malformed, just odd
                    }
                    assertTrue(ring.ring().write(type, b, 0, len));
                }
            }
            String status = awaitStatus(client, j -> j.get("malformed_messages").asLong() >= before + 150, 30_000);
            assertTrue(status.contains("\"clients\":1"), status);
            // A bad sampling value gets an error naming it.
            MoedClient.Request bad = client.submit(PROMPTS[2], new MoedClient.Options(5, 0, 0, 2f, 0, 1, 0, List.of()), new Got());
            ExecutionException ex = assertThrows(ExecutionException.class, () -> bad.end().get(30, TimeUnit.SECONDS));
            assertTrue(ex.getCause().getMessage().contains("top-p must be in (0, 1]"), ex.getCause().getMessage());

            // A prompt of several chunks is reassembled whole: 60 KB of text is far over the 512-token context.
            String huge = "the sea and the ship ".repeat(3000);
            MoedClient.Request big = client.submit(huge, MoedClient.Options.greedy(5), new Got());
            ExecutionException over = assertThrows(ExecutionException.class, () -> big.end().get(60, TimeUnit.SECONDS));
            assertTrue(over.getCause().getMessage().matches("the prompt is \\d{4,} tokens, the context holds 512.*"),
                    over.getCause().getMessage());

            // A client process killed mid-stream: the server notices the silence and frees its sequence.
            Process p = submitProcess(dir, PROMPTS[3], 400);
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
            assertTrue(out.read() >= 0, "the child streamed something");
            awaitStatus(client, j -> j.get("active_sequences").asInt() == 1 && j.get("clients").asInt() == 2, 30_000);
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
            awaitStatus(client, j -> j.get("active_sequences").asInt() == 0 && j.get("clients").asInt() == 1, 30_000);

            // And the server still answers, correctly.
            assertEquals(expected, answer(client, PROMPTS[0], 12));
        }
    }

    @Test
    void aSecondServerIsRefusedAStaleDirectoryIsRecoveredAndShutdownAnswersInFlightRequests() throws Exception {
        // Files left by a crashed server (no one holds the lock).
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("server.info"), "pid=1\ninstance=5\nmodel=old\n");
        Files.write(dir.resolve("requests.ring"), new byte[4096]);
        try (Engine e = engine()) {
            MoedServer server = new MoedServer(e, new IpcDirectory(dir), 2, TIMEOUT_MS, System.err);
            IllegalStateException twice = assertThrows(IllegalStateException.class,
                    () -> new MoedServer(e, new IpcDirectory(dir), 2, TIMEOUT_MS, System.err));
            assertTrue(twice.getMessage().startsWith("another moed server is serving " + dir), twice.getMessage());
            try (MoedClient client = MoedClient.connect(dir)) {
                Got g = new Got();
                MoedClient.Request r = client.submit(PROMPTS[4], MoedClient.Options.greedy(400), g);
                g.first.get(60, TimeUnit.SECONDS);
                server.close();
                ExecutionException ex = assertThrows(ExecutionException.class, () -> r.end().get(30, TimeUnit.SECONDS));
                assertEquals("shutdown", ((MoedClient.ServerError) ex.getCause()).code(), ex.getCause().getMessage());
            }
            assertFalse(Files.exists(dir.resolve("requests.ring")));
            assertFalse(Files.exists(dir.resolve("server.info")));
            java.io.IOException none = assertThrows(java.io.IOException.class, () -> MoedClient.connect(dir));
            assertTrue(none.getMessage().startsWith("no moed server at " + dir), none.getMessage());
        }
    }

    static String answer(MoedClient c, String prompt, int n) throws Exception {
        Got g = new Got();
        c.submit(prompt, MoedClient.Options.greedy(n), g).end().get(60, TimeUnit.SECONDS);
        return g.text.toString();
    }

    /** Polls the server's status until the condition holds (bounded; no sleep stands in for synchronization). */
    static String awaitStatus(MoedClient c, java.util.function.Predicate<JsonNode> ok, long millis) throws Exception {
        long deadline = System.currentTimeMillis() + millis;
        String s = c.status();
        while (!ok.test(CliEndToEndTest.JSON.readTree(s))) {
            assertTrue(System.currentTimeMillis() < deadline, "status never reached the expected state: " + s);
            Thread.onSpinWait();
            s = c.status();
        }
        return s;
    }

    static Process submitProcess(Path ipc, String prompt, int n) throws Exception {
        return ChildJvm.builder(List.of(), moed.tools.cli.MoedCli.class.getName(), "submit", "--ipc-dir", ipc.toString(), "-n",
                Integer.toString(n), prompt).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }

}
