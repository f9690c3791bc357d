package moed.tools.ipc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import moed.kernels.GgmlType;
import moed.runtime.Engine;
import moed.runtime.chat.ChatTemplate;
import moed.runtime.model.Architecture;
import moed.runtime.model.SyntheticModel;
import moed.runtime.sampling.SamplerConfig;
import org.agrona.ExpandableArrayBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server and client in the racy orders and with the hostile input issue 23 names, on the tiny model. */
class MoedServerTest {
    static final Path MODEL = Path.of(System.getProperty("moed.repo.dir", ".."), "models", "moed-tinymoe-16x4-q8_0.gguf");
    static final long TIMEOUT_MS = 1500;

    @TempDir
    Path tmp;

    Path ipc() {
        return tmp.resolve("ipc");
    }

    static Engine engine(Path model) throws Exception {
        return Engine.open(model, 1, 256, 16);
    }

    /** A small qwen3moe file: its synthetic vocabulary is ChatML's, with a chat template (the tiny model has none). */
    Path chatModel() throws Exception {
        Path f = tmp.resolve("chat.gguf");
        SyntheticModel.write(new SyntheticModel.Spec(Architecture.QWEN3MOE, 2, 128, 4, 2, 0, 8, 2, 64, 0, 400, GgmlType.F32,
                null, 0, 7, 256), f, (done, total) -> { });
        return f;
    }

    static final List<ChatTemplate.Message> CONVERSATION = List.of(
            new ChatTemplate.Message("system", "You answer in one line ✓"),
            new ChatTemplate.Message("user", "Where is the sea?"),
            new ChatTemplate.Message("assistant", "Beyond the hill."),
            new ChatTemplate.Message("user", "And the king? 🌊"));

    /** What one request received: its token ids and text. */
    static final class Got implements MoedClient.Listener {
        final List<Integer> ids = new java.util.ArrayList<>();
        final StringBuilder text = new StringBuilder();

        @Override
        public void onToken(int id, String piece) {
            if (id >= 0) {
                ids.add(id);
            }
            text.append(piece);
        }

        int[] idArray() {
            return ids.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    @Test
    void aConversationGetsTheSoloChatAnswerAndABadOneAnErrorNamingWhy() throws Exception {
        Path model = chatModel();
        int[] solo;
        String soloText;
        int promptTokens;
        try (Engine e = engine(model)) {
            int[] prompt = e.encodeChat(CONVERSATION);
            Engine.Generation g = e.generate(prompt, 8, SamplerConfig.GREEDY, null);
            solo = g.generatedIds();
            soloText = g.text();
            promptTokens = prompt.length;
        }
        try (Engine e = engine(model); MoedServer server = new MoedServer(e, new IpcDirectory(ipc()), 2, TIMEOUT_MS, System.err);
             MoedClient client = MoedClient.connect(ipc(), TIMEOUT_MS)) {
            Got got = new Got();
            MoedClient.Done d = client.submitChat(CONVERSATION, MoedClient.Options.greedy(8), got).end().get(60, TimeUnit.SECONDS);
            assertEquals(8, solo.length);
            assertArrayEquals(solo, got.idArray());
            assertEquals(soloText, got.text.toString());
            assertEquals(promptTokens, d.promptTokens());

            MoedClient.ServerError tool = error(client.submitChat(List.of(new ChatTemplate.Message("user", "hi"),
                    new ChatTemplate.Message("tool", "{}")), MoedClient.Options.greedy(4), new Got()));
            assertEquals("bad_message", tool.code());
            assertEquals("submit: message 2 has the unknown role \"tool\": a role is system, user or assistant", tool.getMessage());
            MoedClient.ServerError none = error(client.submitChat(List.of(), MoedClient.Options.greedy(4), new Got()));
            assertEquals("bad_message", none.code());
            assertEquals("submit: a conversation needs at least one message, this one has 0", none.getMessage());
            // Several chunks are put back together before the conversation is decoded: this one decodes, and only
            // the context refuses it.
            MoedClient.ServerError big = error(client.submitChat(List.of(new ChatTemplate.Message("user", "é🌊 the sea ".repeat(4000))),
                    MoedClient.Options.greedy(4), new Got()));
            assertEquals("bad_request", big.code());
            assertTrue(big.getMessage().matches("the conversation is \\d{4,} tokens, the context holds 256.*"), big.getMessage());

            Got again = new Got();
            client.submitChat(CONVERSATION, MoedClient.Options.greedy(8), again).end().get(60, TimeUnit.SECONDS);
            assertArrayEquals(solo, again.idArray(), "the server still serves, and the same answer");
            assertEquals(2, server.malformedMessages(), "the unknown role and the empty conversation, nothing else");
        }
    }

    @Test
    void aConversationForAModelWithoutAChatTemplateIsABadRequest() throws Exception {
        try (Engine e = engine(MODEL); MoedServer server = new MoedServer(e, new IpcDirectory(ipc()), 2, TIMEOUT_MS, System.err);
             MoedClient client = MoedClient.connect(ipc(), TIMEOUT_MS)) {
            MoedClient.ServerError err = error(client.submitChat(CONVERSATION, MoedClient.Options.greedy(4), new Got()));
            assertEquals("bad_request", err.code());
            assertTrue(err.getMessage().startsWith("moed-tinymoe-16x4-q8_0.gguf has no tokenizer.chat_template"), err.getMessage());
            Got text = new Got();
            assertEquals("length", client.submit("The ship sailed", MoedClient.Options.greedy(4), text).end().get(60, TimeUnit.SECONDS)
                    .reason(), "plain text is still served");
        }
    }

    static MoedClient.ServerError error(MoedClient.Request r) {
        ExecutionException ex = assertThrows(ExecutionException.class, () -> r.end().get(60, TimeUnit.SECONDS));
        return (MoedClient.ServerError) ex.getCause();
    }

    /**
     * A client of another protocol version says hello: it cannot be served, and is told so in an ERROR it can read
     * (its own version's header; the layout is the same). A version-1 client reads it with its ErrorCodec, which is
     * this one but for the version it expects.
     */
    @Test
    void aHelloInAnotherVersionIsAnsweredInThatVersionAndTheServerKeepsServing() throws Exception {
        ByteArrayOutputStream logged = new ByteArrayOutputStream();
        PrintStream log = new PrintStream(logged, true, StandardCharsets.UTF_8);
        try (Engine e = engine(MODEL); MoedServer server = new MoedServer(e, new IpcDirectory(ipc()), 2, TIMEOUT_MS, log)) {
            IpcDirectory dir = new IpcDirectory(ipc());
            for (short version : new short[] {1, 3}) {
                long id = 0x7000 + version;
                ExpandableArrayBuffer b = new ExpandableArrayBuffer(64);
                try (IpcDirectory.MappedRing requests = IpcDirectory.openRing(dir.requestRing());
                     IpcDirectory.MappedRing replies = dir.createRing(dir.clientRing(id), Protocol.REPLY_RING_BYTES)) {
                    HelloCodec hello = new HelloCodec().wrapForEncode(b, 0, id).pid(1);
                    b.putShort(0, version, java.nio.ByteOrder.LITTLE_ENDIAN);
                    assertTrue(hello.writeTo(requests.ring()));
                    byte[][] reply = new byte[1][];
                    long deadline = System.currentTimeMillis() + 10_000;
                    while (reply[0] == null) {
                        assertTrue(System.currentTimeMillis() < deadline, "no reply to a version " + version + " hello");
                        replies.ring().read((type, buf, index, length) -> {
                            assertEquals(Protocol.ERROR, type);
                            reply[0] = new byte[length];
                            buf.getBytes(index, reply[0]);
                        });
                        Thread.onSpinWait();
                    }
                    org.agrona.concurrent.UnsafeBuffer r = new org.agrona.concurrent.UnsafeBuffer(reply[0]);
                    assertEquals(version, r.getShort(0, java.nio.ByteOrder.LITTLE_ENDIAN), "the header is the client's version");
                    r.putShort(0, Protocol.VERSION, java.nio.ByteOrder.LITTLE_ENDIAN);
                    ErrorCodec err = new ErrorCodec().wrapForDecode(r, 0, reply[0].length);
                    assertEquals(id, err.clientId());
                    assertEquals("unsupported_version", err.code());
                    assertEquals("protocol version " + version + " is not supported by this server (speaks 2): "
                            + (version == 1 ? "upgrade the client" : "upgrade the server"), err.message());
                }
            }
            assertEquals(0, server.clientCount());
            try (MoedClient client = MoedClient.connect(ipc(), TIMEOUT_MS)) {
                assertEquals("length", client.submit("The ship sailed", MoedClient.Options.greedy(4), (i, p) -> { }).end()
                        .get(60, TimeUnit.SECONDS).reason());
            }
        }
        assertTrue(logged.toString(StandardCharsets.UTF_8).contains("it speaks protocol version 1, this server 2"), logged.toString());
    }

    /** A server that refuses the hello (as one of a later version does): connect fails with the server's words. */
    @Test
    void aClientRefusedAtHelloSaysWhyAtOnce() throws Exception {
        IpcDirectory dir = new IpcDirectory(ipc());
        try (IpcDirectory.ServerLock lock = dir.lockForServer();
             IpcDirectory.MappedRing requests = dir.createRing(dir.requestRing(), Protocol.REQUEST_RING_BYTES)) {
            requests.ring().consumerHeartbeatTime(System.currentTimeMillis());
            dir.writeInfo(1, "fake");
            Thread fake = Thread.ofPlatform().daemon().start(() -> {
                ExpandableArrayBuffer b = new ExpandableArrayBuffer(64);
                while (!Thread.currentThread().isInterrupted()) {
                    requests.ring().read((type, buf, index, length) -> {
                        if (type != Protocol.HELLO) {
                            return;
                        }
                        long id = new HelloCodec().wrapForDecode(buf, index, length).clientId();
                        try (IpcDirectory.MappedRing ring = IpcDirectory.openRing(dir.clientRing(id))) {
                            new ErrorCodec().wrapForEncode(b, 0, id, 0).code("unsupported_version")
                                    .message("protocol version 2 is not supported by this server (speaks 3): upgrade the client")
                                    .writeTo(ring.ring());
                        } catch (Exception ex) {
                            throw new RuntimeException(ex);
                        }
                    });
                    Thread.onSpinWait();
                }
            });
            try {
                long start = System.nanoTime();
                java.io.IOException e = assertThrows(java.io.IOException.class, () -> MoedClient.connect(ipc(), 60_000));
                assertEquals("the moed server at " + ipc() + " refused this client: protocol version 2 is not supported by this"
                        + " server (speaks 3): upgrade the client", e.getMessage());
                assertTrue(System.nanoTime() - start < 30_000_000_000L, "not after the hello timeout");
            } finally {
                fake.interrupt();
                fake.join(5000);
            }
        }
    }

    @Test
    void aSubmitReadAfterTheComputeThreadStoppedIsStillAnswered() throws Exception {
        try (Engine e = engine(MODEL); MoedServer server = new MoedServer(e, new IpcDirectory(ipc()), 2, TIMEOUT_MS, System.err);
             MoedClient client = MoedClient.connect(ipc(), TIMEOUT_MS);
             IpcDirectory.MappedRing ring = IpcDirectory.openRing(new IpcDirectory(ipc()).requestRing())) {
            AtomicReference<MoedClient.Request> late = new AtomicReference<>();
            server.daemon().afterComputeStopped = () -> {
                late.set(client.submit("The ship sailed", MoedClient.Options.greedy(4), (id, piece) -> { }));
                long deadline = System.nanoTime() + 5_000_000_000L;
                while (ring.ring().consumerPosition() < ring.ring().producerPosition() && System.nanoTime() < deadline) {
                    Thread.onSpinWait(); // until the server has read it
                }
            };
            server.close();
            ExecutionException ex = assertThrows(ExecutionException.class, () -> late.get().end().get(10, TimeUnit.SECONDS));
            assertEquals("shutdown", ((MoedClient.ServerError) ex.getCause()).code(), ex.getCause().getMessage());
        }
    }

    @Test
    void aPromptWhoseLastChunkNeverComesIsAnsweredAndTheirNumberIsBounded() throws Exception {
        try (Engine e = engine(MODEL); MoedServer server = new MoedServer(e, new IpcDirectory(ipc()), 2, TIMEOUT_MS, System.err);
             RawClient raw = new RawClient(ipc())) {
            raw.submitFirstChunkOf(1, 2);
            RawClient.Reply r = raw.awaitReply(3 * TIMEOUT_MS);
            assertEquals(Protocol.ERROR, r.type());
            assertEquals(1, r.requestId());
            assertEquals("incomplete_prompt", r.code(), r.message());
            for (long req = 10; req < 10 + Protocol.MAX_PROMPTS_ARRIVING; req++) {
                raw.submitFirstChunkOf(req, 2);
            }
            raw.submitFirstChunkOf(99, 2);
            RawClient.Reply refused = raw.awaitReply(3 * TIMEOUT_MS);
            assertEquals(99, refused.requestId(), refused.message());
            assertEquals("bad_message", refused.code());
            assertTrue(refused.message().contains("prompts of this client are arriving in chunks at once"), refused.message());
            assertEquals(1, server.clientCount(), "the client is still served");
        }
    }

    @Test
    void statusJsonNamesAModelWhoseFileNameHasQuotesAndBackslashes() throws Exception {
        Path odd = tmp.resolve("we\"ird\\name.gguf");
        Files.createSymbolicLink(odd, MODEL.toAbsolutePath());
        try (Engine e = engine(odd); MoedServer server = new MoedServer(e, new IpcDirectory(ipc()), 2, TIMEOUT_MS, System.err);
             MoedClient client = MoedClient.connect(ipc(), TIMEOUT_MS)) {
            var json = new ObjectMapper().readTree(client.status());
            assertEquals("we\"ird\\name.gguf", json.get("model").asText());
            assertEquals(1, json.get("clients").asInt());
        }
    }

    @Test
    void noPromptStopStringOrAnswerReachesTheServerLog() throws Exception {
        ByteArrayOutputStream logged = new ByteArrayOutputStream();
        PrintStream log = new PrintStream(logged, true, StandardCharsets.UTF_8);
        String secret = "zebra-secret";
        StringBuilder text = new StringBuilder();
        try (Engine e = engine(MODEL); MoedServer server = new MoedServer(e, new IpcDirectory(ipc()), 2, TIMEOUT_MS, log)) {
            try (MoedClient client = MoedClient.connect(ipc(), TIMEOUT_MS)) {
                client.submit("The " + secret + " sailed", new MoedClient.Options(8, 0, 0, 1, 0, 1, 0, List.of(secret + "-stop")),
                        (id, piece) -> text.append(piece)).end().get(60, TimeUnit.SECONDS);
                MoedClient.Request bad = client.submit(secret + " bad", new MoedClient.Options(4, 0, 0, 2f, 0, 1, 0,
                        List.of(secret + "-stop")), (id, piece) -> { });
                assertThrows(ExecutionException.class, () -> bad.end().get(30, TimeUnit.SECONDS));
                MoedClient.Request big = client.submit((secret + " ").repeat(20_000), MoedClient.Options.greedy(2), (id, piece) -> { });
                assertThrows(ExecutionException.class, () -> big.end().get(60, TimeUnit.SECONDS));
                // One never says goodbye: the server drops it for its silence and logs that.
                RawClient silent = new RawClient(ipc());
                silent.submitFirstChunkOf(5, 2);
                long deadline = System.currentTimeMillis() + 10 * TIMEOUT_MS;
                while (server.clientCount() > 1 && System.currentTimeMillis() < deadline) {
                    Thread.sleep(50);
                }
                assertEquals(1, server.clientCount());
            }
        }
        String out = logged.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains("dropping client"), out);
        assertFalse(out.contains(secret), out);
        String answer = text.toString().strip();
        assertTrue(answer.length() >= 8, answer);
        assertFalse(out.contains(answer), out);
    }

    /**
     * close() on one thread while the poller ends a request: the closing thread's walk over the open requests has
     * already taken request B when the poller completes B; B's listener must still hear onDone alone.
     */
    @Test
    void aRequestEndsOnceWhenCloseRacesThePoller() throws Exception {
        try (Engine e = engine(MODEL); MoedServer server = new MoedServer(e, new IpcDirectory(ipc()), 2, TIMEOUT_MS, System.err)) {
            MoedClient client = MoedClient.connect(ipc(), TIMEOUT_MS);
            CountDownLatch pollerHeld = new CountDownLatch(1);
            CountDownLatch releasePoller = new CountDownLatch(1);
            CountDownLatch closeInA = new CountDownLatch(1);
            CountDownLatch releaseClose = new CountDownLatch(1);
            CountDownLatch bDone = new CountDownLatch(1);
            AtomicInteger bEnds = new AtomicInteger();
            client.submit("The ship sailed", MoedClient.Options.greedy(2), new MoedClient.Listener() {
                @Override
                public void onToken(int id, String piece) {
                    if (pollerHeld.getCount() > 0) {
                        pollerHeld.countDown();
                        await(releasePoller);
                    }
                }

                @Override
                public void onError(String code, String message) {
                    closeInA.countDown();
                    await(releaseClose);
                }
            });
            client.submit("The wind", MoedClient.Options.greedy(2), new MoedClient.Listener() {
                @Override
                public void onToken(int id, String piece) {
                }

                @Override
                public void onDone(MoedClient.Done done) {
                    bEnds.incrementAndGet();
                    bDone.countDown();
                }

                @Override
                public void onError(String code, String message) {
                    bEnds.incrementAndGet();
                }
            });
            assertTrue(pollerHeld.await(60, TimeUnit.SECONDS));
            long deadline = System.currentTimeMillis() + 60_000;
            while (server.scheduler().status().requestsDone() < 2 && System.currentTimeMillis() < deadline) {
                Thread.sleep(10);
            }
            Thread closer = Thread.ofPlatform().start(client::close);
            assertTrue(closeInA.await(10, TimeUnit.SECONDS), "close() fails A while the poller is held");
            releasePoller.countDown();
            assertTrue(bDone.await(10, TimeUnit.SECONDS), "the poller ends B with its DONE");
            releaseClose.countDown();
            closer.join(10_000);
            assertEquals(1, bEnds.get(), "B heard exactly one of onDone and onError");
        }
    }

    static void await(CountDownLatch l) {
        try {
            l.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A client written by hand, to send what MoedClient never would (half a prompt) and read the raw replies. */
    static final class RawClient implements AutoCloseable {
        record Reply(int type, long requestId, String code, String message) {
        }

        final IpcDirectory dir;
        final long id = System.nanoTime() & Long.MAX_VALUE;
        final IpcDirectory.MappedRing requests;
        final IpcDirectory.MappedRing replies;
        final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(256);

        RawClient(Path ipc) throws Exception {
            dir = new IpcDirectory(ipc);
            requests = IpcDirectory.openRing(dir.requestRing());
            replies = dir.createRing(dir.clientRing(id), Protocol.REPLY_RING_BYTES);
            replies.ring().consumerHeartbeatTime(System.currentTimeMillis());
            assertTrue(new HelloCodec().wrapForEncode(buffer, 0, id).pid(1).writeTo(requests.ring()));
            assertEquals(Protocol.WELCOME, awaitReply(5000).type());
        }

        void submitFirstChunkOf(long req, int chunks) {
            assertTrue(new SubmitCodec().wrapForEncode(buffer, 0, id, req).maxTokens(4).temperature(0).topK(0).topP(1).minP(0)
                    .repeatPenalty(1).seed(0).chunk(0, chunks).promptFormat(SubmitCodec.TEXT).stops(List.of())
                    .promptChunk(new byte[] {'a'}, 0, 1)
                    .writeTo(requests.ring()));
        }

        /** The next reply, stamping this client's heartbeat meanwhile (as a live client does). */
        Reply awaitReply(long millis) {
            AtomicReference<Reply> got = new AtomicReference<>();
            long deadline = System.currentTimeMillis() + millis;
            while (got.get() == null) {
                assertTrue(System.currentTimeMillis() < deadline, "no reply within " + millis + " ms");
                replies.ring().consumerHeartbeatTime(System.currentTimeMillis());
                replies.ring().read((type, b, index, length) -> {
                    if (type == Protocol.ERROR) {
                        ErrorCodec m = new ErrorCodec().wrapForDecode(b, index, length);
                        long req = m.requestId();
                        String code = m.code();
                        got.set(new Reply(type, req, code, m.message()));
                    } else {
                        got.set(new Reply(type, 0, null, null));
                    }
                }, 1);
                Thread.onSpinWait();
            }
            return got.get();
        }

        @Override
        public void close() {
            requests.close();
            replies.close();
        }
    }
}
