package moed.runtime.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.SplittableRandom;
import moed.kernels.Activation;
import moed.kernels.GgmlType;
import moed.kernels.Interleaved;
import moed.kernels.MatMat;
import moed.kernels.ParallelExecutor;
import moed.kernels.WeightMatrix;
import moed.runtime.gguf.GgufFile;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The model as decode runs it: Q4_K dense matrices interleaved, giving the file's matrices' results bit for bit. */
class DecodeLayoutTest {
    @TempDir
    Path dir;

    @Test
    void shouldInterleaveQ4KDenseMatricesWithTheSameResults() throws Exception {
        Assumptions.assumeTrue(Interleaved.ENABLED && Interleaved.worthwhile(GgmlType.Q4_K, 256),
                "skipped: interleaving is off here (-Dmoed.kernels.interleave=false or scalar kernels)");
        Path f = dir.resolve("q4k.gguf");
        SyntheticModel.write(new SyntheticModel.Spec(2, 256, 8, 4, 8, 2, 256, 400, GgmlType.Q4_K, 7, 256), f, (d, t) -> { });
        try (GgufFile file = GgufFile.open(f); ParallelExecutor ex = new ParallelExecutor(2)) {
            Model m = Model.load(file);
            Model decode = m.withMatricesForDecode();
            assertSame(m.tokenEmbedding(), decode.tokenEmbedding(), "the embedding is read row by row: left as it is");
            SplittableRandom rnd = new SplittableRandom(1);
            int checked = 0;
            for (int l = 0; l < m.config().layers(); l++) {
                WeightMatrix[] before = {m.layer(l).wq(), m.layer(l).wk(), m.layer(l).wv(), m.layer(l).wo()};
                WeightMatrix[] after = {decode.layer(l).wq(), decode.layer(l).wk(), decode.layer(l).wv(), decode.layer(l).wo()};
                for (int i = 0; i < before.length; i++) {
                    assertFalse(before[i].interleaved());
                    if (before[i].type() != GgmlType.Q4_K) {
                        continue;
                    }
                    assertTrue(after[i].interleaved(), "layer " + l + " matrix " + i);
                    float[] v = new float[before[i].cols()];
                    for (int k = 0; k < v.length; k++) {
                        v[k] = (float) rnd.nextGaussian();
                    }
                    Activation[] a = {new Activation(v.length).set(v, 0, v.length)};
                    float[][] x = new float[1][before[i].rows()];
                    float[][] y = new float[1][before[i].rows()];
                    new MatMat(ex).apply(before[i], a, null, 1, x);
                    new MatMat(ex).apply(after[i], a, null, 1, y);
                    for (int r = 0; r < x[0].length; r++) {
                        assertEquals(Float.floatToIntBits(x[0][r]), Float.floatToIntBits(y[0][r]), "layer " + l + " row " + r);
                    }
                    checked++;
                }
            }
            assertTrue(checked > 0, "the synthetic Q4_K model has Q4_K attention matrices");
        }
    }
}
