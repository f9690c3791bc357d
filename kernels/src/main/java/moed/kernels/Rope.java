package moed.kernels;

/**
 * Rotary position embedding as ggml computes it, with optional YaRN context extension. The first {@code rotDim}
 * values of each head are rotated in pairs: adjacent pairs (2i, 2i+1) in the normal layout, (i, i + rotDim/2) in
 * NeoX's. Pair i turns by theta_i = pos * base^(-2i/rotDim), scaled by {@code freqScale} (linear scaling).
 *
 * <p>YaRN (gpt-oss, long-context Qwen): low-frequency pairs are interpolated (theta * freqScale), high-frequency
 * ones kept (extrapolated), with a linear ramp between pair indices {@code corrLow} and {@code corrHigh}; and the
 * rotated values are multiplied by mscale = attnFactor * (1 + 0.1 ln(1 / freqScale)).
 */
public record Rope(int rotDim, float base, float freqScale, boolean neox, float extFactor, float corrLow, float corrHigh,
                   float attnFactor) {

    /** Plain RoPE (with linear scaling when freqScale < 1). */
    public static Rope plain(int rotDim, float base, float freqScale, boolean neox) {
        return new Rope(rotDim, base, freqScale, neox, 0f, 0f, 0f, 1f);
    }

    /**
     * YaRN for a model trained at {@code origContext} positions and extended by {@code factor}; betaFast/betaSlow
     * (32 and 1 by default in llama.cpp) set where the ramp starts and ends, as ggml_rope_yarn_corr_dims does.
     */
    public static Rope yarn(int rotDim, float base, float factor, int origContext, boolean neox, float betaFast,
                            float betaSlow, float extFactor, float attnFactor) {
        float low = (float) Math.max(0, Math.floor(corrDim(rotDim, origContext, betaFast, base)));
        float high = (float) Math.min(rotDim - 1, Math.ceil(corrDim(rotDim, origContext, betaSlow, base)));
        return new Rope(rotDim, base, 1f / factor, neox, extFactor, low, high, attnFactor);
    }

    /** The pair index at which a rotation completes {@code rotations} turns over the original context. */
    private static double corrDim(int rotDim, int origContext, float rotations, float base) {
        return rotDim * Math.log(origContext / (rotations * 2 * Math.PI)) / (2 * Math.log(base));
    }

    /** Rotates every head of {@code x[off..]} for position {@code pos}; scratch holds at least rotDim floats. */
    public void apply(float[] x, int off, int heads, int headDim, int pos, float[] cosSin) {
        int half = rotDim / 2;
        float thetaScale = (float) Math.pow(base, -2.0 / rotDim);
        if (extFactor == 0f) {
            // theta_i = pos * freqScale * base^(-2i/rotDim), by repeated multiplication as ggml does.
            float theta = pos * freqScale;
            for (int i = 0; i < half; i++) {
                cosSin[2 * i] = (float) Math.cos(theta) * attnFactor;
                cosSin[2 * i + 1] = (float) Math.sin(theta) * attnFactor;
                theta *= thetaScale;
            }
        } else {
            float mscale = attnFactor * (1.0f + 0.1f * (float) Math.log(1.0f / freqScale));
            float thetaExtrap = pos;
            for (int i = 0; i < half; i++) {
                float thetaInterp = freqScale * thetaExtrap;
                float y = (i - corrLow) / Math.max(0.001f, corrHigh - corrLow);
                float rampMix = (1 - Math.min(1, Math.max(0, y))) * extFactor;
                float theta = thetaInterp * (1 - rampMix) + thetaExtrap * rampMix;
                cosSin[2 * i] = (float) Math.cos(theta) * mscale;
                cosSin[2 * i + 1] = (float) Math.sin(theta) * mscale;
                thetaExtrap *= thetaScale;
            }
        }
        for (int h = 0; h < heads; h++) {
            int base0 = off + h * headDim;
            for (int i = 0; i < half; i++) {
                int i0 = neox ? base0 + i : base0 + 2 * i;
                int i1 = neox ? base0 + i + half : base0 + 2 * i + 1;
                float c = cosSin[2 * i];
                float s = cosSin[2 * i + 1];
                float x0 = x[i0];
                float x1 = x[i1];
                x[i0] = x0 * c - x1 * s;
                x[i1] = x0 * s + x1 * c;
            }
        }
    }
}
