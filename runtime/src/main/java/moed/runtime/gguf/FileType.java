package moed.runtime.gguf;

import moed.kernels.GgmlType;

/**
 * llama.cpp's file type ({@code llama_ftype} in llama.h), the number a GGUF file stores as {@code general.file_type}.
 * It is a separate numbering from the tensor types' ({@link GgmlType#id}): writing a tensor type id there makes
 * llama.cpp and the model hubs name the file wrongly (Q8_0's tensor id 8 is the file type MOSTLY_Q5_0).
 *
 * <p>{@link #mainType} is the tensor type a file of this type mostly holds, as llama.cpp guesses a file type from
 * its most common tensor type; the mixes that have no single main type (Q4_K_S, IQ3_M...) have none.
 */
public enum FileType {
    ALL_F32(0, GgmlType.F32),
    MOSTLY_F16(1, GgmlType.F16),
    MOSTLY_Q4_0(2, GgmlType.Q4_0),
    MOSTLY_Q4_1(3, GgmlType.Q4_1),
    // 4 (Q4_1_SOME_F16), 5 (Q4_2) and 6 (Q4_3) were removed from llama.cpp.
    MOSTLY_Q8_0(7, GgmlType.Q8_0),
    MOSTLY_Q5_0(8, GgmlType.Q5_0),
    MOSTLY_Q5_1(9, GgmlType.Q5_1),
    MOSTLY_Q2_K(10, GgmlType.Q2_K),
    MOSTLY_Q3_K_S(11, null),
    MOSTLY_Q3_K_M(12, GgmlType.Q3_K),
    MOSTLY_Q3_K_L(13, null),
    MOSTLY_Q4_K_S(14, null),
    MOSTLY_Q4_K_M(15, GgmlType.Q4_K),
    MOSTLY_Q5_K_S(16, null),
    MOSTLY_Q5_K_M(17, GgmlType.Q5_K),
    MOSTLY_Q6_K(18, GgmlType.Q6_K),
    MOSTLY_IQ2_XXS(19, GgmlType.IQ2_XXS),
    MOSTLY_IQ2_XS(20, GgmlType.IQ2_XS),
    MOSTLY_Q2_K_S(21, null),
    MOSTLY_IQ3_XS(22, null),
    MOSTLY_IQ3_XXS(23, GgmlType.IQ3_XXS),
    MOSTLY_IQ1_S(24, GgmlType.IQ1_S),
    MOSTLY_IQ4_NL(25, GgmlType.IQ4_NL),
    MOSTLY_IQ3_S(26, GgmlType.IQ3_S),
    MOSTLY_IQ3_M(27, null),
    MOSTLY_IQ2_S(28, GgmlType.IQ2_S),
    MOSTLY_IQ2_M(29, null),
    MOSTLY_IQ4_XS(30, GgmlType.IQ4_XS),
    MOSTLY_IQ1_M(31, GgmlType.IQ1_M),
    MOSTLY_BF16(32, GgmlType.BF16),
    // 33-35 (Q4_0_4_4, Q4_0_4_8, Q4_0_8_8) were removed: llama.cpp repacks Q4_0 at load instead.
    MOSTLY_TQ1_0(36, GgmlType.TQ1_0),
    MOSTLY_TQ2_0(37, GgmlType.TQ2_0),
    /** gpt-oss's files: MXFP4 experts, the rest in a wider type. */
    MOSTLY_MXFP4_MOE(38, GgmlType.MXFP4);

    /** The key that holds it. */
    public static final String KEY = "general.file_type";

    /** The value stored in {@link #KEY}. */
    public final int id;
    /** The tensor type a file of this type mostly holds, or null for the mixes named after their size. */
    public final GgmlType mainType;

    FileType(int id, GgmlType mainType) {
        this.id = id;
        this.mainType = mainType;
    }

    /** The file type with this stored value, or null when llama.cpp has none of that number (or moed does not know it). */
    public static FileType byId(long id) {
        for (FileType f : values()) {
            if (f.id == id) {
                return f;
            }
        }
        return null;
    }

    /** The file type of a file whose weights are mostly {@code t}, or null when llama.cpp has none (Q8_K, integers). */
    public static FileType mostly(GgmlType t) {
        for (FileType f : values()) {
            if (f.mainType == t) {
                return f;
            }
        }
        return null;
    }

    /**
     * Records in {@code w} the file type of weights mostly of type {@code t}; nothing when llama.cpp has no file
     * type for it (readers then guess one from the tensors, as llama.cpp does).
     */
    public static void put(GgufWriter w, GgmlType t) {
        FileType f = mostly(t);
        if (f != null) {
            w.putU32(KEY, f.id);
        }
    }

    /** How a file's type reads: llama.cpp's name without the MOSTLY_ prefix ("Q8_0", "Q4_K_M", "ALL_F32"). */
    public String label() {
        return name().startsWith("MOSTLY_") ? name().substring("MOSTLY_".length()) : name();
    }

    /** How {@code file}'s stored file type reads, "unknown (n)" for a number moed does not know, or null when absent. */
    public static String describe(GgufFile file) {
        Object v = file.metadata().get(KEY);
        if (v == null) {
            return null;
        }
        FileType f = v instanceof Number n ? byId(n.longValue()) : null;
        return f != null ? f.label() : "unknown (" + v + ")";
    }
}
