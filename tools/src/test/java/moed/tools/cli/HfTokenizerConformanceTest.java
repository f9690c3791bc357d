package moed.tools.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.EngineException;
import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import moed.runtime.gguf.GgufFile;
import moed.runtime.gguf.GgufValueType;
import moed.runtime.gguf.GgufWriter;
import moed.runtime.tokenizer.Tokenizer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * moed's tokenizers against Hugging Face tokenizers, the Rust library (through DJL's JNI binding, offline): for every
 * pre-tokenizer moed supports and for SentencePiece vocabularies, {@code moed model tokenizer} exports the GGUF
 * file's vocabulary as a tokenizer.json, moed and HF encode the same texts, and the ids must be identical.
 *
 * <p>Files: {@code moed model synth} makes the gpt2 (olmoe), qwen2 (qwen2moe), deepseek-v3 (deepseek2), gpt-4o (gpt-oss)
 * and SentencePiece (llama) vocabularies; llama-bpe, deepseek-llm and llama.cpp's fallback "default", which no
 * synthesized architecture has, are the qwen2 file with {@code tokenizer.ggml.pre} changed. The repository's trained
 * model gives a real SentencePiece vocabulary.
 *
 * <p>Texts: the edge cases of tokenizer-edge-cases.txt and generated ones (digit runs, 10,000-character words), and
 * ../shared/corpus line by line: valid and test whole, every {@value #TRAIN_STRIDE}th line of train
 * ({@code -Dmoed.tokenizer.corpus=full} takes all of train). Both report lines compared and differing.
 *
 * <p>How: no BOS or other additions on either side: moed {@code encode(text, addBos=false, parseSpecial=true)}, HF
 * {@code encode(text, add_special_tokens=false)}. Special tokens written in the text become those tokens on both sides
 * (HF always matches its added tokens; moed does when asked, as for chat templates). Two inputs differ by necessity:
 * a lone surrogate cannot reach the Rust library (its strings are UTF-8), so HF gets U+FFFD in its place, which is
 * what moed makes of it; and Qwen2's tokenizer.json normalizes to NFC where llama.cpp (moed's reference) does not,
 * so for qwen2 moed encodes the text's NFC form (and the lines where that matters are counted and reported).
 * {@link #knownDifferences} pins the differences between llama.cpp and HF that no input change removes.
 */
class HfTokenizerConformanceTest {
    static {
        // No network from DJL whoever runs this (surefire sets these too, and keeps DJL's copy of its native library
        // under target/): no download of a native library, no telemetry call.
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        if (System.getProperty("OPT_OUT_TRACKING") == null) {
            System.setProperty("OPT_OUT_TRACKING", "true");
        }
    }

    static final int TRAIN_STRIDE = 10;

    /** The tokenizers compared: their names in reports, in order. */
    static final List<String> TOKENIZERS = List.of("gpt2 (olmo)", "qwen2", "llama-bpe", "deepseek-llm", "deepseek-v3", "gpt-4o",
            "default", "spm (synthetic)", "spm (moed-tinymoe)");

    @TempDir
    static Path dir;

    private static final Map<String, Path> FILES = new LinkedHashMap<>();

    @BeforeAll
    static void makeFiles() throws IOException {
        Path qwen = synth("qwen2moe");
        FILES.put("gpt2 (olmo)", synth("olmoe"));
        FILES.put("qwen2", qwen);
        FILES.put("llama-bpe", withPre(qwen, "llama-bpe"));
        FILES.put("deepseek-llm", withPre(qwen, "deepseek-llm"));
        FILES.put("deepseek-v3", synth("deepseek2"));
        FILES.put("gpt-4o", synth("gpt-oss"));
        FILES.put("default", withPre(qwen, "default"));
        FILES.put("spm (synthetic)", synth("llama"));
        FILES.put("spm (moed-tinymoe)", repo().resolve("models/moed-tinymoe-16x4-q8_0.gguf"));
    }

    static List<String> tokenizers() {
        return TOKENIZERS;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tokenizers")
    void edgeCasesEncodeAlike(String name) throws IOException {
        List<String> cases = edgeCases();
        Outcome o = compare(name, cases, false);
        report(name, "edge cases", o);
        assertTrue(o.differing.isEmpty(), name + ": " + o.differing.size() + " of " + o.compared + " edge cases differ:\n"
                + String.join("\n", o.differing.subList(0, Math.min(5, o.differing.size()))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tokenizers")
    void corpusEncodesAlike(String name) throws IOException {
        List<String> lines = corpus();
        Outcome o = compare(name, lines, true);
        report(name, "corpus", o);
        assertTrue(o.differing.isEmpty(), name + ": " + o.differing.size() + " of " + o.compared + " corpus lines differ:\n"
                + String.join("\n", o.differing.subList(0, Math.min(5, o.differing.size()))));
        assertTrue(o.undecoded.isEmpty(), name + ": the exported decoder does not give back " + o.undecoded.size()
                + " lines, e.g. " + o.undecoded.subList(0, Math.min(3, o.undecoded.size())));
    }

    /**
     * The differences between llama.cpp (so moed) and HF that remain, each where it shows and why it is rare in real
     * models (docs/DESIGN-NOTES.md, "Tokenizers against Hugging Face").
     */
    @Test
    void knownDifferences() throws IOException {
        // 1. Qwen2's tokenizer.json normalizes to NFC; llama.cpp does not. Decomposed or compatibility characters (a
        // combining accent, the Kelvin sign, Greek with oxia) become other bytes, so other tokens.
        String text = "cafe\u0301 \u212Aelvin \u1F79";
        try (Pair p = pair(FILES.get("qwen2"))) {
            assertFalse(Arrays.equals(p.moedIds(text), p.hfIds(text)), "NFC changes these characters on the HF side only");
            assertArrayEquals(p.moedIds(Normalizer.normalize(text, Normalizer.Form.NFC)), p.hfIds(text));
        }
        // 2. DeepSeek LLM's file splits digits one by one (a Digits step), llama.cpp keeps runs (\p{N}+) and BPE merges
        // within them: the same ids unless the vocabulary merges digits. The qwen2 vocabulary above has no such merge;
        // the deepseek-v3 one does ("18", "184"), so under deepseek-llm a year differs.
        try (Pair p = pair(withPre(FILES.get("deepseek-v3"), "deepseek-llm"))) {
            Tokenizer t = p.moed;
            int[] single = {t.vocabulary().id("1"), t.vocabulary().id("8"), t.vocabulary().id("4"), t.vocabulary().id("9")};
            assertArrayEquals(single, p.hfIds("1849"), "HF: one token per digit");
            assertArrayEquals(new int[] {t.vocabulary().id("184"), t.vocabulary().id("9")}, p.moedIds("1849"), "llama.cpp: the run merged");
        }
        // 3. SentencePiece: llama.cpp merges the adjacent pair whose piece scores highest, the leftmost of equal scores;
        // HF's BPE takes merges in list order, so of two different pieces with equal scores the one earlier in the
        // list (the converter orders them by id) wins wherever it is. With "bc" before "ab", both scoring 5, "abc":
        Path ties = spmWithTies();
        try (Pair p = pair(ties)) {
            var v = p.moed.vocabulary();
            assertArrayEquals(new int[] {v.id("\u2581"), v.id("ab"), v.id("c")}, p.moedIds("abc"), "llama.cpp: leftmost of the tie");
            assertArrayEquals(new int[] {v.id("\u2581"), v.id("a"), v.id("bc")}, p.hfIds("abc"), "HF: first in the merge list");
        }
    }

    record Outcome(int compared, List<String> differing, int nfcLines, List<String> undecoded) {
    }

    /** Encodes every text with moed and HF; with {@code decode}, also checks that HF's decoder gives each text back. */
    private static Outcome compare(String name, List<String> texts, boolean decode) throws IOException {
        boolean nfc = name.equals("qwen2");
        boolean spm = name.startsWith("spm");
        List<String> differing = new ArrayList<>();
        List<String> undecoded = new ArrayList<>();
        int nfcLines = 0;
        try (Pair p = pair(FILES.get(name))) {
            for (int from = 0; from < texts.size(); from += 1024) {
                List<String> batch = texts.subList(from, Math.min(texts.size(), from + 1024));
                String[] hfIn = new String[batch.size()];
                for (int i = 0; i < hfIn.length; i++) {
                    hfIn[i] = wellFormed(batch.get(i));
                }
                Encoding[] enc = p.hf.batchEncode(hfIn, false, false);
                long[][] hfIds = new long[enc.length][];
                for (int i = 0; i < enc.length; i++) {
                    hfIds[i] = enc[i].getIds();
                    String text = batch.get(i);
                    String moedIn = nfc ? Normalizer.normalize(hfIn[i], Normalizer.Form.NFC) : text;
                    if (nfc && !moedIn.equals(hfIn[i])) {
                        nfcLines++;
                    }
                    int[] m = p.moed.encode(moedIn, false, true);
                    int[] h = ints(hfIds[i]);
                    if (!Arrays.equals(m, h)) {
                        differing.add(show(text) + "\n  moed " + head(m) + "\n  hf   " + head(h));
                    }
                }
                if (decode) {
                    String[] back = p.hf.batchDecode(hfIds, false);
                    for (int i = 0; i < back.length; i++) {
                        String want = nfc ? Normalizer.normalize(hfIn[i], Normalizer.Form.NFC) : hfIn[i];
                        // SentencePiece's decoder drops the space prefix; an empty text has no prefix to drop.
                        if (!back[i].equals(want) && !(spm && want.isEmpty())) {
                            undecoded.add(show(want) + " -> " + show(back[i]));
                        }
                    }
                }
            }
        }
        return new Outcome(texts.size(), differing, nfcLines, undecoded);
    }

    private static void report(String name, String what, Outcome o) {
        System.out.printf("%s, %s: %d texts compared, %d differ%s%n", name, what, o.compared, o.differing.size(),
                o.nfcLines > 0 ? " (" + o.nfcLines + " not in NFC: moed given their NFC form, as Qwen2's normalizer)" : "");
    }

    /** A GGUF file's tokenizer in moed and, through the exported tokenizer.json, in HF. */
    private record Pair(GgufFile file, Tokenizer moed, HuggingFaceTokenizer hf) implements AutoCloseable {
        int[] moedIds(String text) {
            return moed.encode(text, false, true);
        }

        int[] hfIds(String text) {
            return ints(hf.encode(wellFormed(text), false, false).getIds());
        }

        @Override
        public void close() {
            hf.close();
            file.close();
        }
    }

    private static Pair pair(Path gguf) throws IOException {
        Path json = dir.resolve(gguf.getFileName() + "." + System.nanoTime() + ".tokenizer.json");
        assertEquals(0, MoedCli.execute("model", "tokenizer", gguf.toString(), "--json", json.toString()), "export of " + gguf);
        GgufFile f = GgufFile.open(gguf);
        HuggingFaceTokenizer hf;
        try (InputStream in = Files.newInputStream(json)) {
            hf = HuggingFaceTokenizer.newInstance(in, Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
        } catch (UnsatisfiedLinkError | EngineException e) {
            f.close();
            Assumptions.abort("skipped: Hugging Face tokenizers' native library (inside DJL's jar) does not load on this platform: " + e);
            throw e;
        }
        return new Pair(f, Tokenizer.from(f), hf);
    }

    private static Path synth(String arch) {
        Path out = dir.resolve(arch + ".gguf");
        int code = MoedCli.execute("model", "synth", "--arch", arch, "--out", out.toString(), "--layers", "2", "--dim", "64",
                "--heads", "2", "--kv-heads", "2", "--experts", "4", "--top-k", "2", "--expert-ff", "32",
                "--vocab", arch.equals("llama") ? "2048" : "4096", "--type", "F32");
        assertEquals(0, code, "moed model synth --arch " + arch);
        return out;
    }

    /** A vocabulary-only copy of the file (its metadata, no tensors) with another {@code tokenizer.ggml.pre}. */
    static Path withPre(Path src, String pre) throws IOException {
        Path out = dir.resolve(src.getFileName().toString().replace(".gguf", "") + "-as-" + pre + ".gguf");
        try (GgufFile f = GgufFile.open(src)) {
            new GgufWriter().copyMetadata(f, k -> !k.equals("tokenizer.ggml.pre")).putString("tokenizer.ggml.pre", pre).write(out);
        }
        return out;
    }

    /** A SentencePiece vocabulary where "bc" and "ab" (in that order) score the same. */
    private static Path spmWithTies() throws IOException {
        List<String> tokens = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
        List<Integer> types = new ArrayList<>(List.of(2, 3, 3));
        for (int b = 0; b < 256; b++) {
            tokens.add(String.format("<0x%02X>", b));
            types.add(6);
        }
        for (String piece : List.of("\u2581", "a", "b", "c", "bc", "ab")) {
            tokens.add(piece);
            types.add(1);
        }
        List<Float> scores = new ArrayList<>();
        for (String t : tokens) {
            scores.add(t.length() == 2 && !t.startsWith("<") ? 5f : 0f);
        }
        Path out = dir.resolve("spm-ties.gguf");
        new GgufWriter().putString("general.architecture", "llama").putString("tokenizer.ggml.model", "llama")
                .putArray("tokenizer.ggml.tokens", GgufValueType.STRING, tokens)
                .putArray("tokenizer.ggml.scores", GgufValueType.FLOAT32, scores)
                .putArray("tokenizer.ggml.token_type", GgufValueType.INT32, types)
                .putU32("tokenizer.ggml.bos_token_id", 1).putU32("tokenizer.ggml.eos_token_id", 2)
                .putU32("tokenizer.ggml.unknown_token_id", 0).write(out);
        return out;
    }

    /**
     * The edge-case file's texts (its blank lines and '#' lines are not cases), then generated ones: the empty text,
     * digit runs of 1..20 digits (alone, in a word, between spaces), 10,000-character words.
     */
    static List<String> edgeCases() throws IOException {
        List<String> cases = new ArrayList<>();
        try (InputStream in = HfTokenizerConformanceTest.class.getResourceAsStream("tokenizer-edge-cases.txt")) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\r?\n")) {
                if (!line.isEmpty() && !line.startsWith("#")) {
                    cases.add(unescape(line));
                }
            }
        }
        cases.add("");
        StringBuilder digits = new StringBuilder();
        for (int n = 1; n <= 20; n++) {
            digits.append((char) ('0' + n % 10));
            cases.add(digits.toString());
            cases.add("x" + digits + "y");
            cases.add(" " + digits + " ");
        }
        for (String unit : List.of("a", "Supercalifragilistic", "\u6f22", "\ud83d\ude00", "7", " ", "\u00e9", "ab ")) {
            cases.add(unit.repeat(10_000 / unit.length()));
        }
        return cases;
    }

    /** Escapes of the edge-case file: \n \r \t \\ and &#92;u{HEX} (a code point, or a lone surrogate). */
    static String unescape(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\') {
                b.append(c);
                continue;
            }
            char n = s.charAt(++i);
            switch (n) {
                case 'n' -> b.append('\n');
                case 'r' -> b.append('\r');
                case 't' -> b.append('\t');
                case '\\' -> b.append('\\');
                case 'u' -> {
                    int end = s.indexOf('}', i);
                    int cp = Integer.parseInt(s.substring(i + 2, end), 16);
                    if (cp <= 0xFFFF && Character.isSurrogate((char) cp)) {
                        b.append((char) cp);
                    } else {
                        b.appendCodePoint(cp);
                    }
                    i = end;
                }
                default -> throw new IllegalArgumentException("unknown escape \\" + n + " in " + s);
            }
        }
        return b.toString();
    }

    /** The corpus lines compared: valid and test whole, train every TRAIN_STRIDE-th line (or whole). */
    static List<String> corpus() throws IOException {
        Path corpus = shared("corpus");
        boolean full = "full".equals(System.getProperty("moed.tokenizer.corpus"));
        List<String> lines = new ArrayList<>();
        for (String split : List.of("valid.txt", "test.txt")) {
            lines.addAll(Files.readAllLines(corpus.resolve(split), StandardCharsets.UTF_8));
        }
        List<String> train = Files.readAllLines(corpus.resolve("train.txt"), StandardCharsets.UTF_8);
        for (int i = 0; i < train.size(); i += full ? 1 : TRAIN_STRIDE) {
            lines.add(train.get(i));
        }
        return lines;
    }

    /** The text with each unpaired surrogate replaced by U+FFFD, as a UTF-8 decoder (and moed) would have it. */
    static String wellFormed(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                b.append(c).append(s.charAt(++i));
            } else {
                b.append(Character.isSurrogate(c) ? '\uFFFD' : c);
            }
        }
        return b.toString();
    }

    private static int[] ints(long[] ids) {
        return Arrays.stream(ids).mapToInt(Math::toIntExact).toArray();
    }

    private static String head(int[] ids) {
        return ids.length <= 24 ? Arrays.toString(ids) : Arrays.toString(Arrays.copyOf(ids, 24)) + "... (" + ids.length + ")";
    }

    private static String show(String s) {
        String t = s.length() > 120 ? s.substring(0, 100) + "... (" + s.length() + " chars)" : s;
        return "'" + t.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + "'";
    }

    static Path repo() {
        return Paths.get(System.getProperty("moed.repo.dir", "..")).toAbsolutePath().normalize();
    }

    /** A folder of ../shared, or the test is skipped with a message saying so. */
    static Path shared(String relative) {
        String p = System.getProperty("moed.shared.dir");
        Path f = (p != null ? Paths.get(p) : repo().resolve("../shared")).resolve(relative).normalize();
        Assumptions.assumeTrue(Files.isDirectory(f), "skipped: " + f + " is absent (the ../shared folder beside the repository)");
        return f;
    }
}
