package moed.runtime.tokenizer;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import moed.runtime.gguf.GgufArray;
import moed.runtime.gguf.GgufFile;
import moed.runtime.gguf.GgufFormatException;

/**
 * The token table of a model from its GGUF metadata ({@code tokenizer.ggml.*}): texts, scores, types and the
 * special ids. Token types are llama.cpp's: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
 */
public final class Vocabulary {
    public static final int NORMAL = 1;
    public static final int UNKNOWN = 2;
    public static final int CONTROL = 3;
    public static final int USER_DEFINED = 4;
    public static final int UNUSED = 5;
    public static final int BYTE = 6;

    final String model;
    final String[] tokens;
    final float[] scores;
    final int[] types;
    final Map<String, Integer> ids;
    final int bos;
    final int eos;
    final int unk;
    final boolean addBos;
    final boolean addSpacePrefix;
    /** Tokens that end generation: EOS, EOT, and the end-of-turn control tokens of the chat formats moed knows. */
    final boolean[] endOfGeneration;

    Vocabulary(String model, String[] tokens, float[] scores, int[] types, int bos, int eos, int unk, boolean addBos,
               boolean addSpacePrefix) {
        this.model = model;
        this.tokens = tokens;
        this.scores = scores;
        this.types = types;
        this.bos = bos;
        this.eos = eos;
        this.unk = unk;
        this.addBos = addBos;
        this.addSpacePrefix = addSpacePrefix;
        this.ids = new HashMap<>(tokens.length * 2);
        for (int i = 0; i < tokens.length; i++) {
            ids.putIfAbsent(tokens[i], i);
        }
        endOfGeneration = new boolean[tokens.length];
        if (eos >= 0) {
            endOfGeneration[eos] = true;
        }
        // As llama.cpp does: these control tokens end a turn in the chat formats that use them, whatever EOS is.
        for (String t : new String[] {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|endoftext|>",
                "<end_of_turn>", "<|end_of_text|>", "<｜end▁of▁sentence｜>"}) {
            Integer id = ids.get(t);
            if (id != null && types[id] == CONTROL) {
                endOfGeneration[id] = true;
            }
        }
    }

    public static Vocabulary from(GgufFile f) {
        String model = f.getString("tokenizer.ggml.model");
        List<Object> toks = f.getArray("tokenizer.ggml.tokens").values();
        int n = toks.size();
        String[] tokens = new String[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = (String) toks.get(i);
        }
        float[] scores = new float[n];
        if (f.has("tokenizer.ggml.scores")) {
            GgufArray a = f.getArray("tokenizer.ggml.scores");
            check(f, a, n, "tokenizer.ggml.scores");
            for (int i = 0; i < n; i++) {
                scores[i] = ((Number) a.values().get(i)).floatValue();
            }
        }
        int[] types = new int[n];
        java.util.Arrays.fill(types, NORMAL);
        if (f.has("tokenizer.ggml.token_type")) {
            GgufArray a = f.getArray("tokenizer.ggml.token_type");
            check(f, a, n, "tokenizer.ggml.token_type");
            for (int i = 0; i < n; i++) {
                types[i] = ((Number) a.values().get(i)).intValue();
            }
        }
        boolean spm = model.equals("llama");
        int bos = f.getInt("tokenizer.ggml.bos_token_id", spm ? 1 : -1);
        int eos = f.getInt("tokenizer.ggml.eos_token_id", spm ? 2 : -1);
        int unk = f.getInt("tokenizer.ggml.unknown_token_id", spm ? 0 : -1);
        for (int id : new int[] {bos, eos, unk}) {
            if (id >= n) {
                throw new GgufFormatException(f.path(), 0, "special token id " + id + " is outside the vocabulary of " + n);
            }
        }
        boolean addBos = f.getBool("tokenizer.ggml.add_bos_token", spm);
        boolean addSpace = f.getBool("tokenizer.ggml.add_space_prefix", spm);
        Vocabulary v = new Vocabulary(model, tokens, scores, types, bos, eos, unk, addBos, addSpace);
        int eot = f.getInt("tokenizer.ggml.eot_token_id", -1);
        if (eot >= 0 && eot < n) {
            v.endOfGeneration[eot] = true;
        }
        return v;
    }

    private static void check(GgufFile f, GgufArray a, int n, String key) {
        if (a.size() != n) {
            throw new GgufFormatException(f.path(), 0, key + " has " + a.size() + " entries for " + n + " tokens");
        }
    }

    public int size() {
        return tokens.length;
    }

    public String token(int id) {
        return tokens[id];
    }

    public int type(int id) {
        return types[id];
    }

    public int bos() {
        return bos;
    }

    public int eos() {
        return eos;
    }

    /** The unknown token's id, or -1. */
    public int unk() {
        return unk;
    }

    /** The token's score (SentencePiece: its merge priority, higher first; 0 where the file has none). */
    public float score(int id) {
        return scores[id];
    }

    /** SentencePiece: whether a space goes before the text (and after each special token), as llama.cpp does. */
    public boolean addSpacePrefix() {
        return addSpacePrefix;
    }

    public String model() {
        return model;
    }

    public boolean addBos() {
        return addBos;
    }

    /** The id of this exact token text, or -1. */
    public int id(String text) {
        Integer i = ids.get(text);
        return i == null ? -1 : i;
    }

    /** True for tokens that end generation (end of sequence, end of turn). */
    public boolean isEndOfGeneration(int id) {
        return id >= 0 && id < endOfGeneration.length && endOfGeneration[id];
    }
}
