package moed.runtime;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import moed.predictor.Candidates;
import moed.predictor.ExpertPredictor;
import moed.runtime.model.InferenceState;
import moed.runtime.model.LayerHook;

/**
 * Measures predictors on real routing: runs the model over text one token at a time (windows of
 * {@code window} tokens, as the model was trained) and, for every token and layer, compares what each predictor
 * said beforehand with what the router then chose. Recall = share of the k chosen experts that were predicted;
 * precision = share of the predicted experts that were chosen.
 *
 * <p>Variants: gate look-ahead from the previous layer after its attention (the earliest useful point), with k
 * and with k + 2 candidates; gate from the previous layer after its MoE (the stream entering the layer); gate two
 * layers ahead; gate+prior after attention; and the baselines: the previous token's experts at that layer, and
 * the layer's k hottest experts over the whole text (an oracle popularity).
 */
public final class PredictorEvaluation {
    public static final String[] VARIANTS = {"gate@attn k", "gate@attn k+2", "gate@moe k", "gate 2-ahead k",
        "gate+prior@attn k", "previous token", "hottest k"};

    private final Engine engine;
    private final int layers;
    private final int experts;
    private final int k;
    private final long[][] hits;
    private final long[][] predicted;
    private final long[][] actual;
    private final int[][][] pending;   // [variant][layer][candidates], for the current token
    private final int[][] pendingSize;
    private final int[][] previousToken;
    private final long[][] counts;    // activations per layer/expert for the hottest baseline

    public PredictorEvaluation(Engine engine) {
        this.engine = engine;
        var c = engine.model().config();
        layers = c.layers();
        experts = c.experts();
        k = c.expertsUsed();
        hits = new long[VARIANTS.length][layers];
        predicted = new long[VARIANTS.length][layers];
        actual = new long[VARIANTS.length][layers];
        pending = new int[VARIANTS.length][layers][k + 2];
        pendingSize = new int[VARIANTS.length][layers];
        previousToken = new int[layers][];
        counts = new long[layers][experts];
    }

    public Map<String, Object> run(String text, int maxTokens, int window) {
        ExpertPredictor gate = Predictors.create(moed.predictor.PredictorKind.GATE, engine.model(), engine.statisticsStore());
        ExpertPredictor combined = Predictors.create(moed.predictor.PredictorKind.GATE_PRIOR, engine.model(), engine.statisticsStore());
        Candidates cand = new Candidates(experts);
        List<int[][]> routes = new ArrayList<>();
        engine.transformer().hook(new LayerHook() {
            @Override
            public void beforeLayer(int layer, float[][] x, int n) {
                if (layer > 0 && hasExperts(layer)) {
                    gate.predict(layer, x[0], cand);
                    keep(2, layer, cand, k);
                }
                if (layer + 1 < layers && hasExperts(layer + 1)) {
                    gate.predict(layer + 1, x[0], cand);
                    keep(3, layer + 1, cand, k);
                }
            }

            @Override
            public void afterAttention(int layer, float[][] x, int n) {
                if (layer + 1 < layers && hasExperts(layer + 1)) {
                    gate.predict(layer + 1, x[0], cand);
                    keep(0, layer + 1, cand, k);
                    keep(1, layer + 1, cand, k + 2);
                    combined.predict(layer + 1, x[0], cand);
                    keep(4, layer + 1, cand, k);
                }
            }

            @Override
            public void routed(int layer, int[] c, int e) {
            }

            @Override
            public void afterStep() {
                combined.nextToken();
            }
        });
        int[][] current = new int[layers][];
        engine.observe((seq, pos, layer, ex, w, kk, rerouted) -> {
            int[] chosen = java.util.Arrays.copyOf(ex, kk);
            current[layer] = chosen;
            combined.observe(layer, ex, kk);
            for (int v = 0; v < 5; v++) {
                if (layer > 0 || v == 5) {
                    score(v, layer, chosen);
                }
            }
            if (previousToken[layer] != null) {
                System.arraycopy(previousToken[layer], 0, pending[5][layer], 0, kk);
                pendingSize[5][layer] = kk;
                score(5, layer, chosen);
            }
            previousToken[layer] = chosen;
            for (int x : chosen) {
                counts[layer][x]++;
            }
            if (layer == layers - 1) {
                routes.add(current.clone());
            }
        });
        int[] ids = engine.tokenizer().encode(text, false);
        int n = Math.min(maxTokens, ids.length);
        InferenceState s = engine.transformer().newState(window + 1, 1);
        int[] one = new int[1];
        try {
            for (int i = 0; i < n; i++) {
                if (i % window == 0) {
                    s.reset();
                    java.util.Arrays.fill(previousToken, null);
                    one[0] = engine.tokenizer().vocabulary().bos();
                    engine.transformer().forward(s, one, 0, 1, -1);
                }
                one[0] = ids[i];
                engine.transformer().forward(s, one, 0, 1, -1);
            }
        } finally {
            engine.transformer().hook(null);
            engine.observe(null);
        }
        // The hottest-k baseline, scored afterwards against every recorded token.
        for (int l = 0; l < layers; l++) {
            if (!hasExperts(l)) {
                continue;
            }
            Integer[] order = new Integer[experts];
            for (int e = 0; e < experts; e++) {
                order[e] = e;
            }
            final int layer = l;
            java.util.Arrays.sort(order, (a, b) -> Long.compare(counts[layer][b], counts[layer][a]));
            for (int j = 0; j < k; j++) {
                pending[6][l][j] = order[j];
            }
            pendingSize[6][l] = k;
            for (int[][] r : routes) {
                score(6, l, r[l]);
            }
        }
        return report(routes.size());
    }

    /** Whether layer l routes to experts (DeepSeek's leading layers are dense). */
    private boolean hasExperts(int l) {
        return engine.model().layer(l).router() != null;
    }

    private void keep(int variant, int layer, Candidates c, int n) {
        int m = Math.min(n, c.size());
        for (int i = 0; i < m; i++) {
            pending[variant][layer][i] = c.expert(i);
        }
        pendingSize[variant][layer] = m;
    }

    private void score(int v, int layer, int[] chosen) {
        int m = pendingSize[v][layer];
        if (m == 0) {
            return;
        }
        int h = 0;
        for (int x : chosen) {
            for (int i = 0; i < m; i++) {
                if (pending[v][layer][i] == x) {
                    h++;
                    break;
                }
            }
        }
        hits[v][layer] += h;
        predicted[v][layer] += m;
        actual[v][layer] += chosen.length;
        if (v != 6) {
            pendingSize[v][layer] = 0;
        }
    }

    private Map<String, Object> report(int tokens) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("tokens", tokens);
        out.put("k", k);
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int v = 0; v < VARIANTS.length; v++) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("predictor", VARIANTS[v]);
            double[] recall = new double[layers];
            double[] precision = new double[layers];
            long h = 0;
            long p = 0;
            long a = 0;
            for (int l = 0; l < layers; l++) {
                recall[l] = actual[v][l] == 0 ? Double.NaN : (double) hits[v][l] / actual[v][l];
                precision[l] = predicted[v][l] == 0 ? Double.NaN : (double) hits[v][l] / predicted[v][l];
                h += hits[v][l];
                p += predicted[v][l];
                a += actual[v][l];
            }
            r.put("recall_per_layer", recall);
            r.put("precision_per_layer", precision);
            r.put("recall", a == 0 ? Double.NaN : (double) h / a);
            r.put("precision", p == 0 ? Double.NaN : (double) h / p);
            rows.add(r);
        }
        out.put("predictors", rows);
        return out;
    }
}
