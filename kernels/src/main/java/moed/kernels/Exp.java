package moed.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * e^x in floats for attention's softmax, a vector of lanes at a time: the long-context decode spent a third of
 * attention in {@code Math.exp} (one double call per position and head). The classic single-precision scheme (as
 * Cephes' expf and ggml's vectorized expf): x = n ln2 + r with n = round(x / ln2) and |r| <= ln2 / 2, e^r by a
 * degree-6 polynomial, times 2^n built in the exponent bits. Within 2 ulp of e^x over the softmax's range (x <= 0,
 * tested); arguments below -87 give about 1e-38, which the F16-rounded probabilities make 0 anyway.
 *
 * <p>Only IEEE operations lane by lane ({@link #exp(float)} is the same steps on one value), so the result has the
 * same bits at every vector width, for the vector body and the scalar tail, and interpreted or compiled.
 */
final class Exp {
    private static final float LOG2E = 1.44269504088896341f;
    /** ln 2 in two parts: the first has few significant bits, so n * LN2_HI is exact. */
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** Adding and subtracting 1.5 * 2^23 rounds a float of magnitude below 2^22 to the nearest integer. */
    private static final float ROUND = 12582912f;
    private static final float LOWEST = -87f;
    private static final float P0 = 1.9875691500e-4f;
    private static final float P1 = 1.3981999507e-3f;
    private static final float P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f;
    private static final float P4 = 1.6666665459e-1f;
    private static final float P5 = 5.0000001201e-1f;

    private Exp() {
    }

    static FloatVector exp(FloatVector x) {
        var sp = x.species();
        x = x.max(LOWEST);
        FloatVector n = x.mul(LOG2E).add(ROUND).sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(sp, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(sp, -LN2_LO), r);
        FloatVector p = r.fma(P0, P1);
        p = p.fma(r, FloatVector.broadcast(sp, P2));
        p = p.fma(r, FloatVector.broadcast(sp, P3));
        p = p.fma(r, FloatVector.broadcast(sp, P4));
        p = p.fma(r, FloatVector.broadcast(sp, P5));
        FloatVector y = p.mul(r.mul(r)).add(r).add(1f);
        IntVector bits = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        return y.mul(bits.reinterpretAsFloats());
    }

    /** The same steps on one value. */
    static float exp(float x) {
        x = Math.max(x, LOWEST);
        float n = x * LOG2E + ROUND - ROUND;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(r, P0, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        float y = p * (r * r) + r + 1f;
        return y * Float.intBitsToFloat(((int) n + 127) << 23);
    }
}
