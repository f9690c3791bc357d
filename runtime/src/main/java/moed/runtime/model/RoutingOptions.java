package moed.runtime.model;

import java.util.Arrays;
import moed.runtime.config.Setting;
import moed.runtime.config.SettingException;

/**
 * Quality-for-speed knobs on routing and layers:
 * <ul>
 *   <li>smart expert reduction (ik_llama.cpp's {@code -ser Kmin,t}): always the top {@code kMin} experts; ranks
 *       kMin+1..K only while their probability exceeds {@code threshold} times the top expert's (t = 0: the model's
 *       own K; t = 1: exactly kMin). Weights renormalized over the experts kept, as the architecture does;</li>
 *   <li>cache-aware routing: an expert ranked kMin+1..K that is not resident is replaced by the most probable
 *       resident expert not already chosen whose probability is at least its own minus {@code cacheAwareMargin};</li>
 *   <li>skipped layers: the attention and/or the MoE of given layers are not run (the residual passes through).</li>
 * </ul>
 */
public record RoutingOptions(int kMin, float threshold, float cacheAwareMargin, boolean[] skipAttention, boolean[] skipMoe) {
    public static final RoutingOptions DEFAULT = new RoutingOptions(0, 0f, 0f, new boolean[0], new boolean[0]);

    public RoutingOptions {
        if (kMin < 0) {
            throw new SettingException(Setting.EXPERT_REDUCTION, "smart expert reduction keeps at least 1 expert (Kmin), got " + kMin);
        }
        if (!(threshold >= 0 && threshold <= 1)) {
            throw new SettingException(Setting.EXPERT_REDUCTION, "smart expert reduction's threshold t must be in [0, 1], got " + threshold);
        }
        if (!(cacheAwareMargin >= 0 && cacheAwareMargin <= 1)) {
            throw new SettingException(Setting.CACHE_AWARE_ROUTING, "the cache-aware routing margin must be in [0, 1], got " + cacheAwareMargin);
        }
        skipAttention = skipAttention.clone();
        skipMoe = skipMoe.clone();
    }

    /** Parses {@code -ser Kmin,t}. */
    public static RoutingOptions ser(String spec, RoutingOptions base) {
        String[] p = spec.split(",");
        if (p.length != 2) {
            throw new SettingException(Setting.EXPERT_REDUCTION, "smart expert reduction is Kmin,t (for example 2,0.3), got '" + spec + "'");
        }
        try {
            return new RoutingOptions(Integer.parseInt(p[0].trim()), Float.parseFloat(p[1].trim()), base.cacheAwareMargin,
                    base.skipAttention, base.skipMoe);
        } catch (NumberFormatException e) {
            throw new SettingException(Setting.EXPERT_REDUCTION, "smart expert reduction is Kmin,t (for example 2,0.3), got '" + spec + "'");
        }
    }

    /**
     * Parses {@code --skip-layers}: a comma list of layer numbers or ranges, each optionally prefixed by
     * {@code attn:} or {@code moe:} (no prefix: both), e.g. {@code moe:6-7,attn:3}.
     */
    public static RoutingOptions skip(String spec, int layers, RoutingOptions base) {
        boolean[] attn = new boolean[layers];
        boolean[] moe = new boolean[layers];
        for (String raw : spec.split(",")) {
            String item = raw.trim();
            boolean a = true;
            boolean m = true;
            if (item.startsWith("attn:")) {
                m = false;
                item = item.substring(5);
            } else if (item.startsWith("moe:")) {
                a = false;
                item = item.substring(4);
            }
            int from;
            int to;
            try {
                String[] r = item.split("-");
                from = Integer.parseInt(r[0]);
                to = r.length > 1 ? Integer.parseInt(r[1]) : from;
            } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
                throw new SettingException(Setting.SKIPPED_LAYERS, "skipped layers: '" + raw + "' is not a layer, a range A-B, or attn:/moe: one");
            }
            if (from < 0 || to >= layers || from > to) {
                throw new SettingException(Setting.SKIPPED_LAYERS, "skipped layers: " + raw + " is outside layers 0.." + (layers - 1));
            }
            for (int l = from; l <= to; l++) {
                attn[l] |= a;
                moe[l] |= m;
            }
        }
        return new RoutingOptions(base.kMin, base.threshold, base.cacheAwareMargin, attn, moe);
    }

    public RoutingOptions withCacheAwareMargin(float margin) {
        return new RoutingOptions(kMin, threshold, margin, skipAttention, skipMoe);
    }

    public boolean reducesExperts() {
        return kMin > 0;
    }

    public boolean skipsAttention(int layer) {
        return layer < skipAttention.length && skipAttention[layer];
    }

    public boolean skipsMoe(int layer) {
        return layer < skipMoe.length && skipMoe[layer];
    }

    @Override
    public String toString() {
        return "ser " + kMin + "," + threshold + ", cache-aware " + cacheAwareMargin + ", skip attn " + Arrays.toString(skipAttention)
                + " moe " + Arrays.toString(skipMoe);
    }
}
