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
        return new Vocabulary(model, tokens, scores, types, bos, eos, unk, addBos, addSpace);
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

    /** True for tokens that end generation (end of sequence). */
    public boolean isEndOfGeneration(int id) {
        return id == eos;
    }
}
