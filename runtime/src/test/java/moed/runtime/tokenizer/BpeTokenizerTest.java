package moed.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import moed.kernels.GgmlType;
import moed.runtime.gguf.GgufFile;
import moed.runtime.model.Architecture;
import moed.runtime.model.SyntheticModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPT-2 byte-level BPE: the pre-tokenizers' published splits (digits, contractions, white-space runs, CJK, emoji),
 * the merge rule, special tokens, and round trips of any text, malformed input included.
 */
class BpeTokenizerTest {
    @TempDir
    Path dir;

    private static List<String> split(String pre, String text) {
        return PreTokenizer.named(pre).split(text);
    }

    @Test
    void shouldSplitDigitsAsEachPreTokenizerDoes() {
        // Qwen2 splits every digit; Llama 3, DeepSeek-V3 and GPT-4o take runs of up to three.
        assertEquals(List.of("abc", " ", "1", "2", "3", "4", "5"), split("qwen2", "abc 12345"));
        assertEquals(List.of("abc", " ", "123", "45"), split("llama-bpe", "abc 12345"));
        assertEquals(List.of("abc", " ", "123", "45"), split("gpt-4o", "abc 12345"));
        assertEquals(List.of("abc", " ", "123", "45"), split("deepseek-v3", "abc 12345"));
        // GPT-2 keeps a run of digits whole, with the space before it.
        assertEquals(List.of("abc", " 12345"), split("gpt2", "abc 12345"));
        // llama.cpp's default (no known tokenizer.ggml.pre): punctuation cut out, digit runs apart, then in threes.
        assertEquals(List.of("abc", " ", "123", "45"), split("default", "abc 12345"));
        assertEquals(List.of("a", ",", "b"), split("default", "a,b"));
        // DeepSeek LLM / V2: whole digit runs without the space, line breaks alone, letters and punctuation runs each
        // with one leading space, CJK runs apart, trailing white space kept together.
        assertEquals(List.of("Hello", " world", "\n", "123", " ", "你好"), split("deepseek-llm", "Hello world\n123 你好"));
        assertEquals(List.of("a", " ,.", " ", " b", "  "), split("deepseek-llm", "a ,.  b  "));
        // Its letter list: the micro sign is a letter, the multiplication sign is not. Quirks kept as llama.cpp has
        // them: the punctuation class's range :-~ holds the ASCII letters, so they are cut out of mixed words, and the
        // "CJK" class spans U+0800..U+4E00, so it cuts out the Kelvin sign and Greek with oxia.
        assertEquals(List.of("\u00B5\u00B5", " \u00D7"), split("deepseek-llm", "\u00B5\u00B5 \u00D7"));
        assertEquals(List.of("\u00E9", "t", "\u00E9"), split("deepseek-llm", "\u00E9t\u00E9"));
        assertEquals(List.of("\u00B5", "\u212A\u1F7D"), split("deepseek-llm", "\u00B5\u212A\u1F7D"));
    }

    @Test
    void shouldSplitContractions() {
        // Qwen2 / Llama 3: a contraction is its own piece; GPT-4o attaches it to the word before.
        assertEquals(List.of("I", "'m", " sure", " they", "'RE", " here"), split("qwen2", "I'm sure they'RE here"));
        assertEquals(List.of("I'm", " sure", " they'RE", " here"), split("gpt-4o", "I'm sure they'RE here"));
        assertEquals(List.of("I", "'m", " sure"), split("gpt2", "I'm sure"));
        // The long s is a letter, not an 's' of a contraction (Java's case folding would say it is).
        assertEquals(List.of("it", "'\u017f"), split("qwen2", "it'\u017f"));
    }

    @Test
    void shouldKeepWhiteSpaceRunsApartFromTheNextWord() {
        // A run of spaces leaves its last space to the word after it; newlines group with what precedes them.
        assertEquals(List.of("a", "  ", " b"), split("qwen2", "a   b"));
        assertEquals(List.of("x", ":\n\n", "y"), split("llama-bpe", "x:\n\ny"));
        assertEquals(List.of("x", "\n\n", "y"), split("qwen2", "x\n\ny"));
        assertEquals(List.of("end", "   "), split("qwen2", "end   "));
        // U+3000 (ideographic space) is white space too.
        assertEquals(List.of("a", "\t\u3000", " b"), split("gpt-4o", "a\t\u3000 b"));
    }

    @Test
    void shouldSplitCjkAndEmoji() {
        // DeepSeek-V3 cuts CJK runs out before anything else; for Qwen2 they are letters like any other.
        assertEquals(List.of("你好世界", "abc"), split("deepseek-v3", "你好世界abc"));
        assertEquals(List.of("你好世界abc"), split("qwen2", "你好世界abc"));
        // Emoji are neither letters nor digits: one symbol run, with the space before it.
        assertEquals(List.of("hi", " \uD83D\uDE00\uD83D\uDE00!"), split("qwen2", "hi \uD83D\uDE00\uD83D\uDE00!"));
        // GPT-4o: an uppercase run followed by lowercase stays one word ("HTTPServer" -> "HTTPS", "erver" would be wrong).
        assertEquals(List.of("HTTPServer", " is", " UP"), split("gpt-4o", "HTTPServer is UP"));
    }

    @Test
    void shouldRefuseAnUnknownPreTokenizerNamingTheKnownOnes() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> PreTokenizer.named("klingon"));
        assertTrue(e.getMessage().contains("'klingon'") && e.getMessage().contains("qwen2"), e.getMessage());
    }

    /** A vocabulary of the 256 byte characters plus the given tokens, all normal. */
    private static Vocabulary vocab(String... extra) {
        List<String> t = new ArrayList<>();
        for (int b = 0; b < 256; b++) {
            t.add(String.valueOf(ByteLevel.charOf(b)));
        }
        t.addAll(Arrays.asList(extra));
        int[] types = new int[t.size()];
        Arrays.fill(types, Vocabulary.NORMAL);
        return new Vocabulary("gpt2", t.toArray(new String[0]), new float[t.size()], types, -1, -1, -1, false, false);
    }

    @Test
    void shouldMergeByRankLowestFirst() {
        Vocabulary v = vocab("ab", "bc", "abc");
        int a = v.id("a");
        // "a b" ranks first: "ab" then "ab c" -> "abc".
        BpeTokenizer first = new BpeTokenizer(v, List.of("a b", "b c", "ab c"), PreTokenizer.named("qwen2"));
        assertArrayEquals(new int[] {v.id("abc")}, first.encode("abc", false));
        // "b c" ranks first: "a" + "bc", and there is no "a bc" merge.
        BpeTokenizer second = new BpeTokenizer(v, List.of("b c", "a b", "ab c"), PreTokenizer.named("qwen2"));
        assertArrayEquals(new int[] {a, v.id("bc")}, second.encode("abc", false));
        // Llama 3 (llama-bpe) takes a word that is a token whole, even when the merges would not reach it.
        BpeTokenizer llama3 = new BpeTokenizer(v, List.of("b c", "a b", "ab c"), PreTokenizer.named("llama-bpe"));
        assertArrayEquals(new int[] {v.id("abc")}, llama3.encode("abc", false));
        // Merges never cross pre-token boundaries: "ab" + " " + ... the space starts the next word.
        assertArrayEquals(new int[] {v.id("ab"), v.id("\u0120"), v.id("c")}, first.encode("ab c", false));
    }

    /**
     * The merge loop against the rule written the plain way (rescan every pair, merge the lowest rank, leftmost on
     * ties) on random words over a small alphabet, where overlapping pairs ("a a" in "aaa") and equal ranks met
     * at several places are common; and a 40,000-character word, which the plain way took 21 s over.
     */
    @Test
    void shouldMergeAsThePlainRuleDoesOnAnyWord() {
        List<String> merges = List.of("a a", "b a", "a b", "aa a", "c c", "b aa", "ab ab", "cc c", "aa aa", "ba b", "c a",
                "abab c", "aaaa aaaa", "b b", "ca b");
        List<String> extra = new ArrayList<>();
        for (String m : merges) {
            extra.add(m.replace(" ", ""));
        }
        Vocabulary v = vocab(extra.stream().distinct().toArray(String[]::new));
        BpeTokenizer tok = new BpeTokenizer(v, merges, PreTokenizer.named("qwen2"));
        java.util.Random r = new java.util.Random(5);
        for (int n = 0; n < 3000; n++) {
            StringBuilder w = new StringBuilder();
            int len = 1 + r.nextInt(n < 2900 ? 24 : 600);
            for (int i = 0; i < len; i++) {
                w.append("abc".charAt(r.nextInt(r.nextBoolean() ? 1 : 3)));
            }
            assertArrayEquals(plainRule(v, merges, w.toString()), tok.encode(w.toString(), false), w.toString());
        }
        String huge = "a".repeat(40_000);
        long t0 = System.nanoTime();
        int[] ids = tok.encode(huge, false);
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "a 40,000-character word takes seconds");
        StringBuilder back = new StringBuilder();
        for (int id : ids) {
            back.append(new String(tok.pieceBytes(id), StandardCharsets.UTF_8));
        }
        assertEquals(huge, back.toString());
        assertEquals(5_000, ids.length); // "a a", then "aa aa", then "aaaa aaaa"
        assertEquals(v.id("aaaaaaaa"), ids[4_999]);
    }

    /** Merging by the rule as stated, rescanning all pairs after each merge. */
    private static int[] plainRule(Vocabulary v, List<String> merges, String word) {
        List<String> sym = new ArrayList<>();
        for (char c : word.toCharArray()) {
            sym.add(String.valueOf(c));
        }
        while (true) {
            int best = -1;
            int bestRank = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < sym.size(); i++) {
                int rank = merges.indexOf(sym.get(i) + " " + sym.get(i + 1));
                if (rank >= 0 && rank < bestRank) {
                    bestRank = rank;
                    best = i;
                }
            }
            if (best < 0) {
                break;
            }
            sym.set(best, sym.get(best) + sym.remove(best + 1));
        }
        return sym.stream().mapToInt(v::id).toArray();
    }

    private BpeTokenizer synthetic(Architecture arch) throws Exception {
        Path f = dir.resolve(arch.ggufName() + ".gguf");
        SyntheticModel.write(new SyntheticModel.Spec(arch, 1, 64, 2, arch == Architecture.OLMOE ? 2 : 1, 0, 4, 2, 32, arch == Architecture.QWEN2MOE ? 32 : 0,
                1200, GgmlType.F32, null, arch == Architecture.GPT_OSS ? 16 : 0, 3, 64), f, (d, t) -> { });
        try (GgufFile g = GgufFile.open(f)) {
            return (BpeTokenizer) Tokenizer.from(g);
        }
    }

    @Test
    void shouldRoundTripAnyTextThroughALearnedVocabulary() throws Exception {
        BpeTokenizer tok = synthetic(Architecture.QWEN3MOE);
        assertEquals("qwen2", tok.preTokenizer().name());
        for (String s : new String[] {"The sea was calm, and the sand was warm.", "  leading and trailing  ", "tabs\tand\r\nnewlines\n\n",
                "digits 1847 and 3.14159", "caf\u00e9 na\u00efve \u00fcber", "\u6f22\u5b57\u304b\u306a \ud55c\uad6d\uc5b4", "emoji \ud83d\ude00\ud83c\udf0a!",
                "<|im_start|> typed by a user", ""}) {
            int[] ids = tok.encode(s, false);
            assertEquals(s, tok.decode(ids), "round trip of '" + s + "'");
        }
        // English learned merges: a common word is one token, far fewer tokens than bytes.
        int[] ids = tok.encode("the sea and the sand", false);
        assertTrue(ids.length <= 8, "learned merges compress English: " + ids.length + " tokens");
    }

    @Test
    void shouldTurnMalformedTextIntoReplacementCharacters() throws Exception {
        BpeTokenizer tok = synthetic(Architecture.OLMOE);
        assertEquals("gpt2", tok.preTokenizer().name());
        byte[] invalid = {'o', 'k', ' ', (byte) 0xC3, ' ', (byte) 0xFF, (byte) 0xFE, 'x'};
        String decoded = new String(invalid, StandardCharsets.UTF_8); // what a client's bytes become
        assertEquals("ok \uFFFD \uFFFD\uFFFDx", tok.decode(tok.encode(decoded, false)));
        // A lone surrogate in a Java string is malformed too: it becomes U+FFFD, not '?'.
        assertEquals("a\uFFFDb", tok.decode(tok.encode("a\uD800b", false)));
    }

    @Test
    void shouldParseControlTokensOnlyWhenAsked() throws Exception {
        BpeTokenizer tok = synthetic(Architecture.QWEN2MOE);
        Vocabulary v = tok.vocabulary();
        int start = v.id("<|im_start|>");
        int end = v.id("<|im_end|>");
        assertTrue(start > 0 && end > 0);
        int[] parsed = tok.encode("<|im_start|>user\nhi<|im_end|>", false, true);
        assertEquals(start, parsed[0]);
        assertEquals(end, parsed[parsed.length - 1]);
        int[] literal = tok.encode("<|im_start|>user\nhi<|im_end|>", false, false);
        for (int id : literal) {
            assertFalse(id == start || id == end, "typed text never becomes a control token");
        }
        // Control tokens print as nothing; they end generation.
        assertEquals("user\nhi", tok.decode(parsed));
        assertTrue(v.isEndOfGeneration(end), "<|im_end|> ends a turn");
        assertFalse(v.isEndOfGeneration(v.id("a")));
    }
}
