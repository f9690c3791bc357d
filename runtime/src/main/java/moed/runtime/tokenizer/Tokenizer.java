package moed.runtime.tokenizer;

import moed.runtime.gguf.GgufFile;
import moed.runtime.gguf.GgufFormatException;

/**
 * Text to token ids and token ids to bytes, as the model's GGUF metadata defines. Implementations exist per
 * {@code tokenizer.ggml.model}: "llama" (SentencePiece) and "gpt2" (byte-level BPE).
 */
public interface Tokenizer {
    /** Token ids for the text (no special-token parsing), BOS first when {@code addBos}. */
    default int[] encode(String text, boolean addBos) {
        return encode(text, addBos, false);
    }

    /**
     * Token ids for the text, BOS first when {@code addBos}; with {@code parseSpecial}, control tokens written in
     * the text ({@code <|im_start|>} ...) become those tokens, as text a chat template produces needs.
     */
    int[] encode(String text, boolean addBos, boolean parseSpecial);

    /** The bytes a token stands for in output text (empty for control tokens). */
    byte[] pieceBytes(int id);

    Vocabulary vocabulary();

    static Tokenizer from(GgufFile f) {
        Vocabulary v = Vocabulary.from(f);
        return switch (v.model()) {
            case "llama" -> new SpmTokenizer(v);
            case "gpt2" -> {
                if (!f.has("tokenizer.ggml.merges")) {
                    throw new GgufFormatException(f.path(), 0, "a gpt2 (BPE) tokenizer needs tokenizer.ggml.merges, which this file lacks");
                }
                java.util.List<String> merges = new java.util.ArrayList<>();
                for (Object o : f.getArray("tokenizer.ggml.merges").values()) {
                    merges.add((String) o);
                }
                String pre = f.has("tokenizer.ggml.pre") ? f.getString("tokenizer.ggml.pre") : "default";
                try {
                    yield new BpeTokenizer(v, merges, PreTokenizer.named(pre));
                } catch (IllegalArgumentException e) {
                    throw new GgufFormatException(f.path(), 0, e.getMessage());
                }
            }
            default -> throw new GgufFormatException(f.path(), 0, "tokenizer model '" + v.model()
                    + "' is not supported by moed yet; supported: llama (SentencePiece), gpt2 (byte-level BPE)");
        };
    }

    /** Decodes a whole sequence of ids to text. */
    default String decode(int[] ids) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (int id : ids) {
            byte[] b = pieceBytes(id);
            out.write(b, 0, b.length);
        }
        return out.toString(java.nio.charset.StandardCharsets.UTF_8);
    }
}
