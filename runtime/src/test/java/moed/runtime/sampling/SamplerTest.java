package moed.runtime.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Sampling without top-k sorts the whole vocabulary: the same tokens for a seed as ever, and no garbage per token. */
class SamplerTest {
    static final int VOCAB = 2048;

    /** One step's logits: coarse (multiples of 0.25, and both zeros), so many tie and the order among equals matters. */
    static float[] logits(SplittableRandom r, float[] l) {
        for (int i = 0; i < l.length; i++) {
            l[i] = Math.round(r.nextGaussian() * 12) / 4f;
        }
        l[5] = -0f;
        l[6] = 0f;
        return l;
    }

    static int[] draw(SamplerConfig cfg, int tokens) {
        Sampler s = new Sampler(cfg, VOCAB);
        SplittableRandom r = new SplittableRandom(42);
        float[] l = new float[VOCAB];
        int[] out = new int[tokens];
        for (int t = 0; t < tokens; t++) {
            out[t] = s.sample(logits(r, l), VOCAB);
            s.accept(out[t]);
        }
        return out;
    }

    @Test
    void drawsTheSameTokensForASeedAsTheBoxedSortDid() {
        // Drawn by the sampler as it was before (a stable sort of boxed indices), same seeds and logits.
        assertArrayEquals(new int[] {1293, 1225, 1032, 257, 246, 1431, 510, 869, 1473, 1057, 1133, 458, 1283, 99, 1703,
            1563, 1095, 143, 262, 1931, 635, 758, 840, 819, 1724, 1055, 1574, 119, 992, 1916, 1745, 1306, 618, 731, 235,
            887, 1248, 527, 349, 1220}, draw(new SamplerConfig(0.8f, 0, 0.9f, 0f, 1f, 64, 7), 40), "top-p 0.9");
        assertArrayEquals(new int[] {1915, 1063, 1714, 692, 451, 580, 1518, 799, 1519, 792, 935, 1270, 678, 753, 1807,
            627, 710, 1211, 1253, 1392, 492, 982, 1638, 1593, 1203, 1617, 1574, 720, 811, 750, 454, 1306, 67, 1683, 552,
            1779, 713, 1881, 1702, 13}, draw(new SamplerConfig(2.0f, 0, 1f, 0f, 1f, 64, 8), 40), "temperature alone");
        assertArrayEquals(new int[] {1203, 1008, 1950, 1803, 479, 1216, 1333, 1108, 1473, 1394, 1267, 447, 1081, 819,
            1259, 1878, 1876, 143, 262, 1383, 553, 758, 1345, 1228, 413, 1964, 1574, 1772, 1297, 717, 1817, 1306, 1996,
            1528, 1014, 773, 586, 527, 349, 1552}, draw(new SamplerConfig(1.0f, 0, 1f, 0.05f, 1.1f, 64, 9), 40),
                "min-p and a repetition penalty");
    }

    @Test
    void samplingWithoutTopKAllocatesNothingPerToken() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Sampler s = new Sampler(new SamplerConfig(0.8f, 0, 0.95f, 0f, 1f, 64, 1), VOCAB);
        SplittableRandom r = new SplittableRandom(1);
        float[] l = new float[VOCAB];
        for (int t = 0; t < 200; t++) { // warm-up: the JIT compiles the loop and the sampler makes its buffers
            s.sample(logits(r, l), VOCAB);
        }
        long id = Thread.currentThread().threadId();
        long before = threads.getThreadAllocatedBytes(id);
        for (int t = 0; t < 100; t++) {
            s.sample(logits(r, l), VOCAB);
        }
        long bytes = threads.getThreadAllocatedBytes(id) - before;
        // Boxing the vocabulary cost about 2048 x 16 bytes and an array per token, 3+ MB here; allow a little noise.
        assertTrue(bytes < 64 * 1024, bytes + " bytes allocated by 100 samples over " + VOCAB + " tokens");
    }
}
