package moed.tools.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import moed.runtime.gguf.GgufFile;
import moed.runtime.gguf.GgufFormatException;
import moed.runtime.tokenizer.PreTokenizer;
import moed.runtime.tokenizer.Vocabulary;

/**
 * A GGUF file's vocabulary as a Hugging Face {@code tokenizer.json}, in the form the models' own files have:
 * <ul>
 * <li>{@code tokenizer.ggml.model = gpt2}: a BPE model with the file's vocabulary and merges, the pre-tokenizer its
 * {@code tokenizer.ggml.pre} names (a Sequence of Split(Regex, Isolated) steps and ByteLevel without its own regex,
 * with the original expressions of the models' tokenizer.json files; GPT-2's ByteLevel with its regex), the
 * byte-level decoder, and Qwen2's NFC normalizer where the name is qwen2.</li>
 * <li>{@code tokenizer.ggml.model = llama} (SentencePiece): Llama-2's form, a BPE model with byte fallback over the
 * whole text, a normalizer that puts U+2581 for spaces (and before each run of text, if the file adds a space
 * prefix), and merges derived from the scores as the transformers converter derives them: every split of a piece
 * into two pieces of the vocabulary, ordered by the piece's score, highest first.</li>
 * </ul>
 * Control, unknown and user-defined tokens become added tokens (the first two special), matched in the raw text
 * as llama.cpp matches them. A BOS the file adds (and an EOS) goes into a TemplateProcessing post-processor.
 */
final class HfTokenizerJson {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final String CONTRACTIONS = "(?i:'s|'t|'re|'ve|'m|'ll|'d)";
    private static final String SPACE = "\u2581";

    private HfTokenizerJson() {
    }

    /** What was written, for the command's report. */
    record Summary(String model, String preTokenizer, int vocab, int merges, int addedTokens) {
    }

    static Summary write(GgufFile f, Path out) throws IOException {
        ObjectNode json = of(f);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.toFile(), json);
        ObjectNode model = (ObjectNode) json.get("model");
        boolean spm = model.get("byte_fallback").asBoolean();
        return new Summary(spm ? "llama" : "gpt2", spm ? null : preName(f), model.get("vocab").size(), model.get("merges").size(),
                json.get("added_tokens").size());
    }

    /** The tokenizer.json tree of the file's vocabulary. */
    static ObjectNode of(GgufFile f) {
        Vocabulary v = Vocabulary.from(f);
        boolean spm = switch (v.model()) {
            case "llama" -> true;
            case "gpt2" -> false;
            default -> throw new GgufFormatException(f.path(), 0, "tokenizer model '" + v.model()
                    + "' has no tokenizer.json export; supported: llama (SentencePiece), gpt2 (byte-level BPE)");
        };
        String pre = spm ? null : preName(f);
        ObjectNode root = NODES.objectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        root.set("added_tokens", addedTokens(v));
        if (spm) {
            ArrayNode steps = NODES.arrayNode();
            if (v.addSpacePrefix()) {
                steps.add(NODES.objectNode().put("type", "Prepend").put("prepend", SPACE));
            }
            steps.add(replace(" ", SPACE));
            root.set("normalizer", NODES.objectNode().put("type", "Sequence").set("normalizers", steps));
            root.putNull("pre_tokenizer");
        } else {
            // Qwen2's files normalize to NFC; llama.cpp (so moed) does not, which the conformance test pins.
            if (pre.equals("qwen2")) {
                root.set("normalizer", NODES.objectNode().put("type", "NFC"));
            } else {
                root.putNull("normalizer");
            }
            root.set("pre_tokenizer", preTokenizer(pre));
        }
        root.set("post_processor", postProcessor(f, v, spm));
        root.set("decoder", spm ? spmDecoder(v) : byteLevel(true, true, true));
        root.set("model", model(f, v, spm, pre));
        return root;
    }

    /** The canonical name of the file's pre-tokenizer (aliases resolved, llama.cpp's "default" when absent). */
    static String preName(GgufFile f) {
        String pre = f.getString("tokenizer.ggml.pre", "default");
        try {
            return PreTokenizer.named(pre).name();
        } catch (IllegalArgumentException e) {
            throw new GgufFormatException(f.path(), 0, e.getMessage());
        }
    }

    /**
     * The pre-tokenizer as the models' tokenizer.json files write it, for each name moed knows. The expressions are
     * the originals (case-insensitive contractions, {@code $}); llama.cpp's own spellings of them are in
     * {@link PreTokenizer}.
     */
    static ObjectNode preTokenizer(String name) {
        return switch (name) {
            // GPT-2 (and OLMo, MPT): ByteLevel splits with GPT-2's expression itself.
            case "gpt2" -> byteLevel(false, true, true);
            case "qwen2" -> sequence(split(CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                    + "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"), byteLevel(false, false, false));
            case "llama-bpe" -> sequence(split(CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                    + "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"), byteLevel(false, true, false));
            case "deepseek-v3" -> sequence(split("\\p{N}{1,3}"), split("[一-龥぀-ゟ゠-ヿ]+"),
                    split("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
                            + "| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
                    byteLevel(false, true, false));
            // DeepSeek LLM / V2: its last step is Digits (every digit alone); llama.cpp keeps digit runs (\p{N}+),
            // the same for its vocabularies, which have no tokens of several digits.
            case "deepseek-llm" -> sequence(split("[\r\n]"), split("\\s?[" + literal(PreTokenizer.DEEPSEEK_LLM_LETTERS) + "]+"),
                    split("\\s?[!-/:-~！-／：-～‘-‟　-。]+"), split("\\s+$"), split("[一-龥ࠀ-一가-퟿]+"),
                    NODES.objectNode().put("type", "Digits").put("individual_digits", true), byteLevel(false, true, false));
            case "gpt-4o" -> sequence(split("[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
                    + CONTRACTIONS + "?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
                    + CONTRACTIONS + "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
                    byteLevel(false, false, false));
            // llama.cpp's fallback for a file without a known name: no model's file has it, so its own four
            // expressions, in order.
            case "default" -> sequence(split("[\\p{P}\\$\\+<=>\\^~\\|]+"),
                    split("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"),
                    split("\\p{N}+"), split("[0-9][0-9][0-9]"), byteLevel(false, true, false));
            default -> throw new IllegalArgumentException("no tokenizer.json form for pre-tokenizer '" + name + "'");
        };
    }

    /**
     * Llama 3's files (and llama.cpp for them) take a word that is itself a token whole. HF's tiktoken-converted files
     * (gpt-oss) set it too, but llama.cpp does not for gpt-4o, and the export follows llama.cpp: the same ids unless a
     * word is a token its merges do not rebuild.
     */
    static boolean ignoresMerges(String pre) {
        return "llama-bpe".equals(pre);
    }

    private static ObjectNode model(GgufFile f, Vocabulary v, boolean spm, String pre) {
        ObjectNode m = NODES.objectNode();
        m.put("type", "BPE");
        m.putNull("dropout");
        if (spm && v.unk() >= 0) {
            m.put("unk_token", v.token(v.unk()));
        } else {
            m.putNull("unk_token");
        }
        m.putNull("continuing_subword_prefix");
        m.putNull("end_of_word_suffix");
        m.put("fuse_unk", spm);
        m.put("byte_fallback", spm);
        m.put("ignore_merges", ignoresMerges(pre));
        ObjectNode vocab = m.putObject("vocab");
        Map<String, Integer> ids = new HashMap<>();
        for (int id = 0; id < v.size(); id++) {
            // A text twice in the vocabulary: its first id, as llama.cpp's and moed's lookup give.
            if (ids.putIfAbsent(v.token(id), id) == null) {
                vocab.put(v.token(id), id);
            }
        }
        ArrayNode merges = m.putArray("merges");
        for (String[] pair : spm ? spmMerges(v, ids) : bpeMerges(f)) {
            merges.add(NODES.arrayNode().add(pair[0]).add(pair[1]));
        }
        return m;
    }

    /** The file's merges, each "left right" (split at the first space after the first character, as llama.cpp). */
    private static List<String[]> bpeMerges(GgufFile f) {
        List<String[]> out = new ArrayList<>();
        if (!f.has("tokenizer.ggml.merges")) {
            throw new GgufFormatException(f.path(), 0, "a gpt2 (BPE) tokenizer needs tokenizer.ggml.merges, which this file lacks");
        }
        for (Object o : f.getArray("tokenizer.ggml.merges").values()) {
            String s = (String) o;
            int sp = s.indexOf(' ', 1);
            if (sp < 0) {
                throw new GgufFormatException(f.path(), 0, "merge '" + s + "' has no space between its two parts");
            }
            out.add(new String[] {s.substring(0, sp), s.substring(sp + 1)});
        }
        return out;
    }

    /**
     * SentencePiece merges from scores, as transformers' SentencePieceExtractor makes them: for each piece (in id
     * order), each split into two pieces of the vocabulary (ordered by the left piece's id, then the right's); then
     * all of them by the piece's score, highest first (a stable sort: equal scores keep that order).
     */
    static List<String[]> spmMerges(Vocabulary v, Map<String, Integer> ids) {
        record Merge(String left, String right, float score) {
        }
        List<Merge> merges = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int id = 0; id < v.size(); id++) {
            String piece = v.token(id);
            if (!seen.add(piece)) {
                continue;
            }
            List<Merge> local = new ArrayList<>();
            for (int at = piece.offsetByCodePoints(0, Math.min(1, piece.codePointCount(0, piece.length())));
                 at < piece.length(); at = piece.offsetByCodePoints(at, 1)) {
                String l = piece.substring(0, at);
                String r = piece.substring(at);
                if (ids.containsKey(l) && ids.containsKey(r)) {
                    local.add(new Merge(l, r, v.score(id)));
                }
            }
            local.sort(Comparator.comparingInt((Merge x) -> ids.get(x.left)).thenComparingInt(x -> ids.get(x.right)));
            merges.addAll(local);
        }
        merges.sort((a, b) -> Float.compare(b.score, a.score));
        List<String[]> out = new ArrayList<>(merges.size());
        for (Merge m : merges) {
            out.add(new String[] {m.left, m.right});
        }
        return out;
    }

    /** Control and unknown tokens (special) and user-defined ones, as llama.cpp's special-token cache has them. */
    private static ArrayNode addedTokens(Vocabulary v) {
        ArrayNode out = NODES.arrayNode();
        Set<String> seen = new HashSet<>();
        for (int id = 0; id < v.size(); id++) {
            int type = v.type(id);
            String t = v.token(id);
            if (!(type == Vocabulary.CONTROL || type == Vocabulary.UNKNOWN || type == Vocabulary.USER_DEFINED)
                    || t.isEmpty() || !seen.add(t)) {
                continue;
            }
            out.add(NODES.objectNode().put("id", id).put("content", t).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", type != Vocabulary.USER_DEFINED));
        }
        return out;
    }

    private static ObjectNode postProcessor(GgufFile f, Vocabulary v, boolean spm) {
        boolean bos = v.addBos() && v.bos() >= 0;
        boolean eos = f.getBool("tokenizer.ggml.add_eos_token", false) && v.eos() >= 0;
        ObjectNode byteLevel = spm ? null : byteLevel(false, false, false);
        if (!bos && !eos) {
            return byteLevel;
        }
        String bosText = bos ? v.token(v.bos()) : null;
        String eosText = eos ? v.token(v.eos()) : null;
        ArrayNode single = NODES.arrayNode();
        segment(single, bosText, "A", eosText, 0);
        ArrayNode pair = NODES.arrayNode();
        segment(pair, bosText, "A", eosText, 0);
        segment(pair, bosText, "B", eosText, 1);
        ObjectNode specials = NODES.objectNode();
        for (int id : new int[] {bos ? v.bos() : -1, eos ? v.eos() : -1}) {
            if (id >= 0) {
                String t = v.token(id);
                ObjectNode s = specials.putObject(t).put("id", t);
                s.putArray("ids").add(id);
                s.putArray("tokens").add(t);
            }
        }
        ObjectNode template = NODES.objectNode().put("type", "TemplateProcessing");
        template.set("single", single);
        template.set("pair", pair);
        template.set("special_tokens", specials);
        if (byteLevel == null) {
            return template;
        }
        // As Llama 3's file: the byte-level offsets step, then the template.
        ObjectNode seq = NODES.objectNode().put("type", "Sequence");
        seq.putArray("processors").add(byteLevel).add(template);
        return seq;
    }

    /** One sequence of the template: BOS, the text, EOS (each special token only where the file adds it). */
    private static void segment(ArrayNode into, String bos, String sequence, String eos, int typeId) {
        if (bos != null) {
            into.addObject().putObject("SpecialToken").put("id", bos).put("type_id", typeId);
        }
        into.addObject().putObject("Sequence").put("id", sequence).put("type_id", typeId);
        if (eos != null) {
            into.addObject().putObject("SpecialToken").put("id", eos).put("type_id", typeId);
        }
    }

    /** Llama-2's decoder: U+2581 back to spaces, byte tokens to bytes, and the space prefix removed. */
    private static ObjectNode spmDecoder(Vocabulary v) {
        ArrayNode steps = NODES.arrayNode();
        steps.add(replace(SPACE, " "));
        steps.add(NODES.objectNode().put("type", "ByteFallback"));
        steps.add(NODES.objectNode().put("type", "Fuse"));
        if (v.addSpacePrefix()) {
            steps.add(NODES.objectNode().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0));
        }
        return NODES.objectNode().put("type", "Sequence").set("decoders", steps);
    }

    private static ObjectNode replace(String from, String to) {
        ObjectNode r = NODES.objectNode().put("type", "Replace");
        r.putObject("pattern").put("String", from);
        return r.put("content", to);
    }

    private static ObjectNode split(String regex) {
        ObjectNode s = NODES.objectNode().put("type", "Split");
        s.putObject("pattern").put("Regex", regex);
        return s.put("behavior", "Isolated").put("invert", false);
    }

    private static ObjectNode byteLevel(boolean addPrefixSpace, boolean trimOffsets, boolean useRegex) {
        return NODES.objectNode().put("type", "ByteLevel").put("add_prefix_space", addPrefixSpace)
                .put("trim_offsets", trimOffsets).put("use_regex", useRegex);
    }

    private static ObjectNode sequence(ObjectNode... steps) {
        ObjectNode s = NODES.objectNode().put("type", "Sequence");
        ArrayNode a = s.putArray("pretokenizers");
        for (ObjectNode step : steps) {
            a.add(step);
        }
        return s;
    }

    private static final Pattern CODE_POINT = Pattern.compile("\\\\x\\{([0-9A-Fa-f]+)}");

    /** A character class written with {@code \x{...}} escapes, with the characters themselves, as the file has them. */
    static String literal(String escaped) {
        Matcher m = CODE_POINT.matcher(escaped);
        StringBuilder b = new StringBuilder();
        while (m.find()) {
            m.appendReplacement(b, Matcher.quoteReplacement(Character.toString(Integer.parseInt(m.group(1), 16))));
        }
        return m.appendTail(b).toString();
    }
}
