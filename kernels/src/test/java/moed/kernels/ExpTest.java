package moed.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

class ExpTest {
    /** Within 2 ulp of e^x over the softmax's range, and the vector lanes equal the scalar twin bit for bit. */
    @Test
    void shouldBeCloseToTheTrueValueAndTheSameInVectorAndScalar() {
        float[] x = new float[Dot.L];
        float[] v = new float[Dot.L];
        float worst = 0;
        for (float start = -87f; start <= 0f; start += 0.001953125f * Dot.L) {
            for (int i = 0; i < x.length; i++) {
                x[i] = Math.min(0f, start + i * 0.001953125f);
            }
            if (Dot.vectorized()) {
                Exp.exp(FloatVector.fromArray(Dot.F, x, 0)).intoArray(v, 0);
            }
            for (int i = 0; i < x.length; i++) {
                float s = Exp.exp(x[i]);
                double truth = Math.exp(x[i]);
                worst = (float) Math.max(worst, Math.abs(s - truth) / Math.ulp((float) truth));
                if (Dot.vectorized()) {
                    assertEquals(Float.floatToRawIntBits(s), Float.floatToRawIntBits(v[i]), "x = " + x[i]);
                }
            }
        }
        assertTrue(worst <= 2f, "worst error " + worst + " ulp");
        assertEquals(1f, Exp.exp(0f));
        assertTrue(Exp.exp(-1000f) < 1e-37f && Exp.exp(-1000f) >= 0f);
    }
}
