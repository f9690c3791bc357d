package moed.kernels;

import java.util.Map;
import jdk.incubator.vector.FloatVector;

/**
 * Chooses the kernels' vector width for a model, before the first kernel runs. Results are the same at every width
 * (see {@link Dot#CANON}), so this is purely a matter of speed, and it follows what was measured on an AVX-512
 * machine (Xeon, one thread, rows in cache): at 512 bits the K-quant kernels use the full width (Q6_K +40%, Q4_K +7%)
 * and so do the float ones (F16 +50%), and prefill's GEMMs gain; the 32-weight-block kernels (Q4_1, Q5_0, ...) keep
 * their 256-bit lane layout and run 25-40% slower there, since a 512-bit instruction issues on two ports, not three.
 * Q8_0 now uses the full width (a fifth faster than before with rows in cache, still at or below 256 bits), and its
 * prefill is a third faster at 512 ({@link Block32PairGemm}), but decode is slower there: 5% on a Mixtral-shaped
 * file that streams from memory (2 threads, 12.4 against 13.0 tokens/s), 30% on the small trained model whose
 * weights stay in cache (117 against 169). Decode is what a user waits on token by token, so Q8_0 stays with 256.
 * So: 512 bits where the machine has them and most weight bytes are in formats that gain, else 256.
 *
 * <p>{@code -Dmoed.kernels.bits} set by the user always wins; so does a width the kernels already took (one width
 * per JVM, see {@link Dot#floatSpecies}), which a later model cannot change.
 */
public final class KernelWidth {
    /** The system property that fixes the width ({@link Dot#floatSpecies} reads it). */
    public static final String PROPERTY = "moed.kernels.bits";
    /** Why the width was chosen here (null when it was not), for {@link Dot#describe}. */
    private static volatile String reason;

    private KernelWidth() {
    }

    /** Sets {@link #PROPERTY} for a model whose weights take these bytes per type, unless it is set already. */
    public static synchronized void chooseFor(Map<GgmlType, Long> weightBytes) {
        if (System.getProperty(PROPERTY) != null) {
            return;
        }
        int bits = preferred(weightBytes, FloatVector.SPECIES_PREFERRED.vectorBitSize());
        System.setProperty(PROPERTY, String.valueOf(bits));
        reason = bits == 512 ? "most weights in formats faster at 512 bits"
                : "most weights in 32-weight-block formats, faster at 256 bits";
    }

    /** Why {@link #chooseFor} took the width, or null when it did not choose (set by the user, or no model yet). */
    static String reason() {
        return reason;
    }

    /**
     * 512 when the machine has it and more than half the weight bytes are in formats faster there (formats as fast at
     * either width do not count); else 256.
     */
    static int preferred(Map<GgmlType, Long> weightBytes, int machineBits) {
        if (machineBits < 512) {
            return 256;
        }
        long wide = 0;
        long all = 0;
        for (Map.Entry<GgmlType, Long> e : weightBytes.entrySet()) {
            BlockFormat f = BlockFormat.find(e.getKey());
            if (f != null && f.widthNeutral()) {
                continue;
            }
            all += e.getValue();
            if (fasterAt512(e.getKey())) {
                wide += e.getValue();
            }
        }
        return 2 * wide > all ? 512 : 256;
    }

    private static boolean fasterAt512(GgmlType t) {
        BlockFormat f = BlockFormat.find(t);
        return f != null && f.fasterAt512();
    }
}
