package moed.tools.ipc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import moed.runtime.chat.ChatTemplate;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/**
 * Each codec: what is encoded decodes to the same fields, every truncation of it is refused, and the bytes are
 * protocol version 2's. Messages are encoded at an offset and decoded from a copy at another, as rings hand them.
 */
class MessageCodecTest {
    static final long CLIENT = 0x1234_5678_9abc_def0L;
    static final long REQUEST = 42;
    static final int AT = 7;

    /** A copy of the encoded message, placed at offset 3 of a buffer exactly long enough. */
    static DirectBuffer received(MessageCodec m) {
        byte[] bytes = new byte[3 + m.encodedLength()];
        m.buffer().getBytes(m.offset(), bytes, 3, m.encodedLength());
        return new UnsafeBuffer(bytes);
    }

    static byte[] bytes(MessageCodec m) {
        byte[] bytes = new byte[m.encodedLength()];
        m.buffer().getBytes(m.offset(), bytes);
        return bytes;
    }

    /** Decoding every field of every shorter prefix fails with a truncation error, never an out-of-bounds read. */
    static void everyTruncationIsRefused(MessageCodec m, Consumer<Integer> decodeAllOfLength) {
        for (int length = 0; length < m.encodedLength(); length++) {
            int l = length;
            MalformedMessageException e = assertThrows(MalformedMessageException.class, () -> decodeAllOfLength.accept(l),
                    "a " + l + "-byte prefix of " + m.encodedLength());
            assertTrue(e.getMessage().startsWith(l < MessageCodec.HEADER_LENGTH ? "message of " + l + " bytes is shorter"
                    : "truncated message: "), e.getMessage());
        }
    }

    /** The version 2 header, little-endian. */
    static ByteBuffer header(int bodyLength, long requestId) {
        return header(2, bodyLength, requestId);
    }

    static ByteBuffer header(int version, int bodyLength, long requestId) {
        ByteBuffer b = ByteBuffer.allocate(MessageCodec.HEADER_LENGTH + bodyLength).order(ByteOrder.LITTLE_ENDIAN);
        return b.putShort((short) version).putShort((short) 0).putLong(CLIENT).putLong(requestId);
    }

    static void putString(ByteBuffer b, String s) {
        byte[] u = s.getBytes(StandardCharsets.UTF_8);
        b.putInt(u.length).put(u);
    }

    static int utf8(String s) {
        return 4 + s.getBytes(StandardCharsets.UTF_8).length;
    }

    @Test
    void helloRoundTrips() {
        HelloCodec m = new HelloCodec().wrapForEncode(new ExpandableArrayBuffer(8), AT, CLIENT).pid(4711);
        HelloCodec d = new HelloCodec().wrapForDecode(received(m), 3, m.encodedLength());
        assertEquals(CLIENT, d.clientId());
        assertEquals(0, d.requestId());
        assertEquals(4711, d.pid());
        assertArrayEquals(header(4, 0).putInt(4711).array(), bytes(m));
        everyTruncationIsRefused(m, l -> new HelloCodec().wrapForDecode(received(m), 3, l).pid());
    }

    @Test
    void headerOnlyMessagesRoundTripAndOnlyTheirTypesAreEncoded() {
        for (int type : new int[] {Protocol.CANCEL, Protocol.BYE, Protocol.STATUS_REQUEST}) {
            HeaderOnlyCodec m = new HeaderOnlyCodec().wrapForEncode(new ExpandableArrayBuffer(8), AT, type, CLIENT, REQUEST);
            HeaderOnlyCodec d = new HeaderOnlyCodec().wrapForDecode(type, received(m), 3, m.encodedLength());
            assertEquals(type, d.type());
            assertEquals(CLIENT, d.clientId());
            assertEquals(REQUEST, d.requestId());
            assertArrayEquals(header(0, REQUEST).array(), bytes(m));
            everyTruncationIsRefused(m, l -> new HeaderOnlyCodec().wrapForDecode(type, received(m), 3, l));
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new HeaderOnlyCodec().wrapForEncode(new ExpandableArrayBuffer(8), 0, Protocol.TOKEN, CLIENT, REQUEST));
        assertEquals("a token message is not just a header", e.getMessage());
    }

    @Test
    void submitRoundTripsWithItsStopsBeforeThePromptChunk() {
        byte[] text = "ééThe old king looked at the sea".getBytes(StandardCharsets.UTF_8);
        List<String> stops = List.of("\n\n", "End ✓");
        SubmitCodec m = new SubmitCodec().wrapForEncode(new ExpandableArrayBuffer(8), AT, CLIENT, REQUEST).maxTokens(400)
                .temperature(0.7f).topK(40).topP(0.9f).minP(0.05f).repeatPenalty(1.1f).seed(-3).chunk(0, 2)
                .promptFormat(SubmitCodec.CONVERSATION).stops(stops).promptChunk(text, 1, 20);
        SubmitCodec d = new SubmitCodec().wrapForDecode(received(m), 3, m.encodedLength());
        assertEquals(CLIENT, d.clientId());
        assertEquals(REQUEST, d.requestId());
        assertEquals(400, d.maxTokens());
        assertEquals(0.7f, d.temperature());
        assertEquals(40, d.topK());
        assertEquals(0.9f, d.topP());
        assertEquals(0.05f, d.minP());
        assertEquals(1.1f, d.repeatPenalty());
        assertEquals(-3, d.seed());
        assertEquals(0, d.chunkIndex());
        assertEquals(2, d.chunkCount());
        assertEquals(SubmitCodec.CONVERSATION, d.promptFormat());
        assertEquals(2, d.stopCount());
        List<String> got = new ArrayList<>();
        for (int i = 0; i < d.stopCount(); i++) {
            got.add(d.nextStop());
        }
        assertEquals(stops, got);
        assertArrayEquals(java.util.Arrays.copyOfRange(text, 1, 21), d.promptChunk());

        ByteBuffer wire = header(40 + utf8(stops.get(0)) + utf8(stops.get(1)) + 4 + 20, REQUEST).putInt(400).putFloat(0.7f)
                .putInt(40).putFloat(0.9f).putFloat(0.05f).putFloat(1.1f).putLong(-3).putShort((short) 0).putShort((short) 2)
                .putShort((short) 2).putShort((short) 1);
        putString(wire, stops.get(0));
        putString(wire, stops.get(1));
        wire.putInt(20).put(text, 1, 20);
        assertArrayEquals(wire.array(), bytes(m));

        everyTruncationIsRefused(m, l -> {
            SubmitCodec s = new SubmitCodec().wrapForDecode(received(m), 3, l);
            s.maxTokens();
            s.temperature();
            s.topK();
            s.topP();
            s.minP();
            s.repeatPenalty();
            s.seed();
            s.chunkIndex();
            s.chunkCount();
            s.promptFormat();
            for (int i = s.stopCount(); i > 0; i--) {
                s.nextStop();
            }
            s.promptChunk();
        });
    }

    @Test
    void aTruncatedFieldIsNamedWithItsOffset() {
        SubmitCodec m = new SubmitCodec().wrapForEncode(new ExpandableArrayBuffer(8), 0, CLIENT, REQUEST).maxTokens(5)
                .temperature(0).topK(0).topP(1).minP(0).repeatPenalty(1).seed(0).chunk(0, 1).promptFormat(SubmitCodec.TEXT)
                .stops(List.of()).promptChunk(new byte[10], 0, 10);
        SubmitCodec d = new SubmitCodec().wrapForDecode(m.buffer(), 0, 30);
        assertEquals(5, d.maxTokens());
        MalformedMessageException e = assertThrows(MalformedMessageException.class, d::topK);
        assertEquals("truncated message: top-k needs 4 bytes at offset 28 of a 30-byte message", e.getMessage());
        SubmitCodec cut = new SubmitCodec().wrapForDecode(m.buffer(), 0, m.encodedLength() - 1);
        e = assertThrows(MalformedMessageException.class, cut::promptChunk);
        assertEquals("truncated message: prompt needs 10 bytes at offset 64 of a 73-byte message", e.getMessage());
    }

    @Test
    void welcomeRoundTrips() {
        WelcomeCodec m = new WelcomeCodec().wrapForEncode(new ExpandableArrayBuffer(8), AT, CLIENT).instance(99)
                .model("moed-tinymoe-16x4-q8_0.gguf");
        WelcomeCodec d = new WelcomeCodec().wrapForDecode(received(m), 3, m.encodedLength());
        assertEquals(CLIENT, d.clientId());
        assertEquals(99, d.instance());
        assertEquals("moed-tinymoe-16x4-q8_0.gguf", d.model());
        ByteBuffer wire = header(8 + utf8("moed-tinymoe-16x4-q8_0.gguf"), 0).putLong(99);
        putString(wire, "moed-tinymoe-16x4-q8_0.gguf");
        assertArrayEquals(wire.array(), bytes(m));
        everyTruncationIsRefused(m, l -> {
            WelcomeCodec w = new WelcomeCodec().wrapForDecode(received(m), 3, l);
            w.instance();
            w.model();
        });
    }

    @Test
    void tokenRoundTrips() {
        TokenCodec m = new TokenCodec().wrapForEncode(new ExpandableArrayBuffer(8), AT, CLIENT, REQUEST).tokenId(-1)
                .piece(" sea 🌊");
        TokenCodec d = new TokenCodec().wrapForDecode(received(m), 3, m.encodedLength());
        assertEquals(REQUEST, d.requestId());
        assertEquals(-1, d.tokenId());
        assertEquals(" sea 🌊", d.piece());
        ByteBuffer wire = header(4 + utf8(" sea 🌊"), REQUEST).putInt(-1);
        putString(wire, " sea 🌊");
        assertArrayEquals(wire.array(), bytes(m));
        everyTruncationIsRefused(m, l -> {
            TokenCodec t = new TokenCodec().wrapForDecode(received(m), 3, l);
            t.tokenId();
            t.piece();
        });
    }

    @Test
    void doneRoundTripsWithItsCountsAfterTheReason() {
        DoneCodec m = new DoneCodec().wrapForEncode(new ExpandableArrayBuffer(8), AT, CLIENT, REQUEST).reason("length")
                .counts(12, 34, 5_000_000_000L, 6L);
        DoneCodec d = new DoneCodec().wrapForDecode(received(m), 3, m.encodedLength());
        assertEquals(REQUEST, d.requestId());
        assertEquals("length", d.reason());
        assertEquals(12, d.promptTokens());
        assertEquals(34, d.generatedTokens());
        assertEquals(5_000_000_000L, d.prefillNanos());
        assertEquals(6L, d.decodeNanos());
        ByteBuffer wire = header(utf8("length") + 24, REQUEST);
        putString(wire, "length");
        wire.putInt(12).putInt(34).putLong(5_000_000_000L).putLong(6L);
        assertArrayEquals(wire.array(), bytes(m));
        everyTruncationIsRefused(m, l -> {
            DoneCodec x = new DoneCodec().wrapForDecode(received(m), 3, l);
            x.reason();
            x.promptTokens();
            x.generatedTokens();
            x.prefillNanos();
            x.decodeNanos();
        });
        DoneCodec noReason = new DoneCodec().wrapForDecode(received(m), 3, m.encodedLength());
        assertThrows(IllegalStateException.class, noReason::promptTokens, "the counts' place is known after the reason");
    }

    @Test
    void errorRoundTrips() {
        ErrorCodec m = new ErrorCodec().wrapForEncode(new ExpandableArrayBuffer(8), AT, CLIENT, REQUEST).code("bad_request")
                .message("top-p must be in (0, 1]");
        ErrorCodec d = new ErrorCodec().wrapForDecode(received(m), 3, m.encodedLength());
        assertEquals(REQUEST, d.requestId());
        assertEquals("bad_request", d.code());
        assertEquals("top-p must be in (0, 1]", d.message());
        ByteBuffer wire = header(utf8("bad_request") + utf8("top-p must be in (0, 1]"), REQUEST);
        putString(wire, "bad_request");
        putString(wire, "top-p must be in (0, 1]");
        assertArrayEquals(wire.array(), bytes(m));
        everyTruncationIsRefused(m, l -> {
            ErrorCodec x = new ErrorCodec().wrapForDecode(received(m), 3, l);
            x.code();
            x.message();
        });
    }

    @Test
    void anErrorEncodedInAnotherVersionIsThatVersionsBytes() {
        // What a server answers a version-1 client's hello with: the same layout, the client's version.
        ErrorCodec m = new ErrorCodec().wrapForEncode(new ExpandableArrayBuffer(8), AT, CLIENT, 0, (short) 1)
                .code("unsupported_version").message("upgrade");
        ByteBuffer wire = header(1, utf8("unsupported_version") + utf8("upgrade"), 0);
        putString(wire, "unsupported_version");
        putString(wire, "upgrade");
        assertArrayEquals(wire.array(), bytes(m));
        assertThrows(UnsupportedVersionException.class, () -> new ErrorCodec().wrapForDecode(received(m), 3, m.encodedLength()));
    }

    static final List<ChatTemplate.Message> CONVERSATION = List.of(
            new ChatTemplate.Message("system", "Réponds en français ✓"),
            new ChatTemplate.Message("user", "Où est la mer ? 🌊"),
            new ChatTemplate.Message("assistant", ""),
            new ChatTemplate.Message("user", "Et le roi ?"));

    @Test
    void aConversationIsItsCountThenRoleAndContentStrings() {
        byte[] encoded = ConversationCodec.encode(CONVERSATION);
        int length = 4;
        for (ChatTemplate.Message m : CONVERSATION) {
            length += utf8(m.role()) + utf8(m.content());
        }
        ByteBuffer wire = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN).putInt(4);
        for (ChatTemplate.Message m : CONVERSATION) {
            putString(wire, m.role());
            putString(wire, m.content());
        }
        assertArrayEquals(wire.array(), encoded);
        assertEquals(CONVERSATION, ConversationCodec.decode(encoded));
        for (int l = 0; l < encoded.length; l++) {
            byte[] prefix = Arrays.copyOf(encoded, l);
            MalformedMessageException e = assertThrows(MalformedMessageException.class, () -> ConversationCodec.decode(prefix),
                    "a " + l + "-byte prefix of " + encoded.length);
            assertTrue(e.getMessage().startsWith("truncated conversation: "), e.getMessage());
        }
    }

    /** A conversation longer than a chunk, cut where the client cuts it (inside characters), through SUBMITs and back. */
    @Test
    void aConversationOfSeveralChunksRoundTripsThroughSubmits() {
        List<ChatTemplate.Message> talk = new ArrayList<>(CONVERSATION);
        talk.add(new ChatTemplate.Message("assistant", "é🌊✓ la mer, ".repeat(4000)));
        talk.add(new ChatTemplate.Message("user", "Encore ✓"));
        byte[] encoded = ConversationCodec.encode(talk);
        int chunks = (encoded.length + Protocol.MAX_CHUNK_BYTES - 1) / Protocol.MAX_CHUNK_BYTES;
        assertTrue(chunks >= 2, chunks + " chunks");
        ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(64);
        SubmitCodec out = new SubmitCodec();
        SubmitCodec in = new SubmitCodec();
        java.io.ByteArrayOutputStream received = new java.io.ByteArrayOutputStream();
        for (int c = 0; c < chunks; c++) {
            int from = c * Protocol.MAX_CHUNK_BYTES;
            out.wrapForEncode(buffer, AT, CLIENT, REQUEST).maxTokens(8).temperature(0).topK(0).topP(1).minP(0).repeatPenalty(1)
                    .seed(0).chunk(c, chunks).promptFormat(SubmitCodec.CONVERSATION).stops(List.of())
                    .promptChunk(encoded, from, Math.min(Protocol.MAX_CHUNK_BYTES, encoded.length - from));
            in.wrapForDecode(received(out), 3, out.encodedLength());
            assertEquals(c, in.chunkIndex());
            assertEquals(chunks, in.chunkCount());
            assertEquals(SubmitCodec.CONVERSATION, in.promptFormat());
            assertEquals(0, in.stopCount());
            received.writeBytes(in.promptChunk());
        }
        assertEquals(talk, ConversationCodec.decode(received.toByteArray()));
    }

    @Test
    void aConversationWithoutMessagesWithAnUnknownRoleOrWithLeftoversIsRefusedNamingWhy() {
        MalformedMessageException e = assertThrows(MalformedMessageException.class,
                () -> ConversationCodec.decode(ConversationCodec.encode(List.of())));
        assertEquals("a conversation needs at least one message, this one has 0", e.getMessage());

        e = assertThrows(MalformedMessageException.class, () -> ConversationCodec.decode(ConversationCodec.encode(List.of(
                new ChatTemplate.Message("user", "hi"), new ChatTemplate.Message("tool", "{}")))));
        assertEquals("message 2 has the unknown role \"tool\": a role is system, user or assistant", e.getMessage());
        e = assertThrows(MalformedMessageException.class, () -> ConversationCodec.decode(ConversationCodec.encode(List.of(
                new ChatTemplate.Message("x".repeat(1000), "hi")))));
        assertEquals("message 1 has the unknown role \"" + "x".repeat(40) + "...\": a role is system, user or assistant",
                e.getMessage());
        e = assertThrows(MalformedMessageException.class, () -> ConversationCodec.decode(ConversationCodec.encode(List.of(
                new ChatTemplate.Message("User", "hi")))));
        assertTrue(e.getMessage().contains("unknown role \"User\""), "roles are case-sensitive, as templates compare them");

        byte[] one = ConversationCodec.encode(List.of(new ChatTemplate.Message("user", "hi")));
        byte[] more = Arrays.copyOf(one, one.length + 3);
        e = assertThrows(MalformedMessageException.class, () -> ConversationCodec.decode(more));
        assertEquals("the conversation has 3 bytes after its last message", e.getMessage());

        ByteBuffer liar = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(Integer.MAX_VALUE).putInt(0).putInt(0);
        e = assertThrows(MalformedMessageException.class, () -> ConversationCodec.decode(liar.array()));
        assertEquals("truncated conversation: 2147483647 messages cannot fit in its 12 bytes", e.getMessage());
        ByteBuffer negative = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(1).putInt(-5).putInt(0);
        e = assertThrows(MalformedMessageException.class, () -> ConversationCodec.decode(negative.array()));
        assertEquals("message 1's role has a negative length -5", e.getMessage());

        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> ConversationCodec.encode(List.of(new ChatTemplate.Message("user", null))));
        assertEquals("message 1 of the conversation has no role or no content (an empty content is \"\")", missing.getMessage());
    }

    @Test
    void statusRoundTrips() {
        String json = "{\"model\":\"m\",\"clients\":1}";
        StatusCodec m = new StatusCodec().wrapForEncode(new ExpandableArrayBuffer(8), AT, CLIENT, REQUEST).json(json);
        StatusCodec d = new StatusCodec().wrapForDecode(received(m), 3, m.encodedLength());
        assertEquals(REQUEST, d.requestId());
        assertEquals(json, d.json());
        ByteBuffer wire = header(utf8(json), REQUEST);
        putString(wire, json);
        assertArrayEquals(wire.array(), bytes(m));
        everyTruncationIsRefused(m, l -> new StatusCodec().wrapForDecode(received(m), 3, l).json());
    }

    @Test
    void anotherVersionIsRefusedButItsSenderIsKnown() {
        TokenCodec m = new TokenCodec().wrapForEncode(new ExpandableArrayBuffer(8), 0, CLIENT, REQUEST).tokenId(1).piece("x");
        ((ExpandableArrayBuffer) m.buffer()).putShort(0, (short) 1, ByteOrder.LITTLE_ENDIAN);
        HeaderOnlyCodec d = new HeaderOnlyCodec();
        UnsupportedVersionException e = assertThrows(UnsupportedVersionException.class,
                () -> d.wrapForDecode(Protocol.TOKEN, m.buffer(), 0, m.encodedLength()));
        assertEquals("protocol version 1 is not supported (this server speaks 2)", e.getMessage());
        assertEquals(1, e.version());
        assertEquals(CLIENT, d.clientId());
        assertEquals(REQUEST, d.requestId());

        MalformedMessageException shortened = assertThrows(MalformedMessageException.class,
                () -> d.wrapForDecode(Protocol.TOKEN, m.buffer(), 0, 19));
        assertEquals("message of 19 bytes is shorter than the 20-byte header", shortened.getMessage());
        assertEquals(0, d.clientId(), "a header too short to read names no sender");
    }

    @Test
    void impossibleStringLengthsAreRefused() {
        TokenCodec m = new TokenCodec().wrapForEncode(new ExpandableArrayBuffer(8), 0, CLIENT, REQUEST).tokenId(1).piece("abc");
        ExpandableArrayBuffer b = (ExpandableArrayBuffer) m.buffer();
        b.putInt(24, -1, ByteOrder.LITTLE_ENDIAN);
        MalformedMessageException e = assertThrows(MalformedMessageException.class,
                () -> new TokenCodec().wrapForDecode(b, 0, m.encodedLength()).piece());
        assertEquals("piece has a negative length -1", e.getMessage());
        // So long that offset + length would overflow an int: refused, not allocated.
        b.putInt(24, Integer.MAX_VALUE - 10, ByteOrder.LITTLE_ENDIAN);
        e = assertThrows(MalformedMessageException.class, () -> new TokenCodec().wrapForDecode(b, 0, m.encodedLength()).piece());
        assertEquals("truncated message: piece needs 2147483637 bytes at offset 28 of a 31-byte message", e.getMessage());
    }

    @Test
    void streamingATokenAllocatesNothing() {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(256);
        TokenCodec token = new TokenCodec();
        String piece = " the sea, é ✓ 🌊";
        long sum = 0;
        for (int i = 0; i < 20_000; i++) { // warm up, and grow nothing later
            sum += token.wrapForEncode(buffer, 0, CLIENT, i).tokenId(i).piece(piece).encodedLength();
        }
        long before = threads.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 20_000; i++) {
            sum += token.wrapForEncode(buffer, 0, CLIENT, i).tokenId(i).piece(piece).encodedLength();
        }
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertTrue(sum > 0);
        // Encoding the piece through a byte array would take 20,000 x 40 bytes at least.
        assertTrue(allocated < 10_000, allocated + " bytes allocated for 20,000 tokens");
    }
}
