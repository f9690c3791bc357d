package moed.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import moed.runtime.gguf.GgufFile;
import moed.runtime.tokenizer.StreamingDecoder;
import moed.runtime.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TokenizerTest {
    static GgufFile file;
    static Tokenizer tok;

    @BeforeAll
    static void open() throws Exception {
        file = GgufFile.open(TestFiles.defaultModel());
        tok = Tokenizer.from(file);
    }

    @AfterAll
    static void close() {
        file.close();
    }

    @Test
    void shouldRoundTripTextThroughIds() {
        for (String s : new String[] {"Hello world", "  two leading spaces", "tabs\tand\nnewlines", "numbers 1847 and 32"}) {
            int[] ids = tok.encode(s, false);
            // The space prefix SentencePiece adds comes back as a leading space.
            assertEquals(" " + s, tok.decode(ids), "round trip of '" + s + "'");
        }
    }

    @Test
    void shouldFallBackToBytesForCharactersOutsideTheVocabulary() {
        String s = "caf\u00e9 \u6f22\u5b57 \ud83d\ude00";
        int[] ids = tok.encode(s, true);
        assertEquals(1, ids[0], "BOS first");
        assertEquals(" " + s, tok.decode(ids));
    }

    @Test
    void shouldStreamWithoutSplittingUtf8Characters() {
        String s = "\u6f22\u5b57 and \ud83d\ude00!";
        int[] ids = tok.encode(s, false);
        StreamingDecoder d = new StreamingDecoder(tok);
        StringBuilder out = new StringBuilder();
        for (int id : ids) {
            String piece = d.accept(id);
            for (char c : piece.toCharArray()) {
                assertEquals(false, c == '\ufffd', "a replacement character means a split code point");
            }
            out.append(piece);
        }
        out.append(d.finish());
        assertEquals(" " + s, out.toString());
    }

    @Test
    void shouldPrefixASpaceAfterEachSpecialTokenAsLlamaCppDoes() {
        // llama.cpp's SentencePiece path puts the space prefix before every run of text that follows a special token
        // (and at the start), as Llama-2's tokenizer.json does by normalizing each such run on its own.
        int[] hello = tok.encode("hello", false);
        int[] afterBos = tok.encode("<s>hello</s>hello", false, true);
        int[] want = new int[2 * hello.length + 2];
        want[0] = 1;
        System.arraycopy(hello, 0, want, 1, hello.length);
        want[hello.length + 1] = 2;
        System.arraycopy(hello, 0, want, hello.length + 2, hello.length);
        assertArrayEquals(want, afterBos);
    }

    @Test
    void shouldParseTheUnknownTokenOnlyWithSpecialTokens() {
        // As llama.cpp: the unknown token is among the special tokens matched in text, and, like control tokens,
        // only when the caller asks for them.
        assertArrayEquals(new int[] {0}, tok.encode("<unk>", false, true));
        assertEquals(false, java.util.Arrays.equals(new int[] {0}, tok.encode("<unk>", false, false)));
    }

    @Test
    void shouldEncodeEmptyTextAsJustBos() {
        assertArrayEquals(new int[] {1}, tok.encode("", true));
        assertArrayEquals(new int[0], tok.encode("", false));
    }

    @Test
    void shouldReleaseInvalidBytesAsReplacementText() {
        int ff = tok.vocabulary().id("<0xFF>");
        StreamingDecoder d = new StreamingDecoder(tok);
        String a = d.accept(ff);
        String b = d.finish();
        assertEquals("\ufffd", a + b);
        assertEquals(new String(new byte[] {(byte) 0xFF}, StandardCharsets.UTF_8), a + b);
    }
}
