package moed.runtime.tokenizer;

import moed.runtime.gguf.GgufFile;
import moed.runtime.gguf.GgufFormatException;

/**
 * Text to token ids and token ids to bytes, as the model's GGUF metadata defines. Implementations exist per
 * {@code tokenizer.ggml.model}: "llama" (SentencePiece) now; GPT-2 byte-level BPE slots in beside it.
 */
public interface Tokenizer {
    /** Token ids for the text (no special-token parsing), BOS first when {@code addBos}. */
    int[] encode(String text, boolean addBos);

    /** The bytes a token stands for in output text (empty for control tokens). */
    byte[] pieceBytes(int id);

    Vocabulary vocabulary();

    static Tokenizer from(GgufFile f) {
        Vocabulary v = Vocabulary.from(f);
        return switch (v.model()) {
            case "llama" -> new SpmTokenizer(v);
            default -> throw new GgufFormatException(f.path(), 0, "tokenizer model '" + v.model()
                    + "' is not supported by moed yet; supported: llama (SentencePiece)");
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
