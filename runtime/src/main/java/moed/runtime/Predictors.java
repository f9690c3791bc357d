package moed.runtime;

import moed.cache.StatisticsStore;
import moed.predictor.CombinedPredictor;
import moed.predictor.ExpertPredictor;
import moed.predictor.GateLookaheadPredictor;
import moed.predictor.PredictorKind;
import moed.predictor.PriorPredictor;
import moed.predictor.RouterWeights;
import moed.runtime.model.Model;

/** Builds a model's expert predictors: the predictor module knows no models, so the runtime hands it the routers. */
public final class Predictors {
    private Predictors() {
    }

    /** The router weights of every MoE layer (null for dense layers), as the predictors take them. */
    public static RouterWeights[] routerWeights(Model m) {
        var c = m.config();
        RouterWeights[] r = new RouterWeights[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            if (m.layer(l).router() != null) {
                r[l] = new RouterWeights(m.layer(l).ffnNorm(), c.rmsEps(), m.layer(l).router(), m.layer(l).routerBias(),
                        m.layer(l).scoring());
            }
        }
        return r;
    }

    /**
     * The predictor of that kind for model {@code m}; the prior's transitions are seeded from {@code store}'s
     * persisted statistics when there is one (null: none).
     */
    public static ExpertPredictor create(PredictorKind kind, Model m, StatisticsStore store) {
        var c = m.config();
        return switch (kind) {
            case GATE -> new GateLookaheadPredictor(routerWeights(m), c.dim());
            case PRIOR -> prior(m, store);
            case GATE_PRIOR -> new CombinedPredictor(new GateLookaheadPredictor(routerWeights(m), c.dim()), prior(m, store), 0.05f,
                    c.experts());
            case NONE -> throw new IllegalArgumentException("no predictor to create for 'none'");
        };
    }

    private static PriorPredictor prior(Model m, StatisticsStore store) {
        var c = m.config();
        PriorPredictor prior = new PriorPredictor(c.layers(), c.experts(), c.expertsUsed(), 0.3f);
        if (store != null) {
            for (int l = 0; l + 1 < c.layers(); l++) {
                for (int e = 0; e < c.experts(); e++) {
                    prior.seedTransitions(l, e, store.transitions(l, e));
                }
            }
        }
        return prior;
    }
}
