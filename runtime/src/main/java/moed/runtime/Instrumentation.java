package moed.runtime;

import java.io.IOException;
import java.nio.file.Path;
import moed.cache.ExpertCache;
import moed.cache.ExpertStatistics;
import moed.cache.SlotClass;
import moed.jfr.Events;
import moed.jfr.Packing;
import moed.jfr.Recorder;
import moed.predictor.PrefetchPlanner;
import moed.runtime.config.CacheOptions;
import moed.runtime.model.LayerHook;
import moed.runtime.model.Model;
import moed.runtime.model.RouterObserver;
import moed.runtime.model.Transformer;

/**
 * Everything that watches the forward pass of one engine: the routing-decision fan-out (JFR recording, persisted
 * statistics, the prefetch planner, a caller's observer), the planner's layer hook, and the JFR recording with its
 * step counter. The transformer is told one observer; this class composes it from whichever parts are on, and
 * installs none at all when nothing listens. Used on the compute thread (recording starts and stops between steps).
 */
final class Instrumentation {
    private final Transformer transformer;
    private final Model model;
    private final ExpertServing experts;
    private RouterObserver userObserver;
    private PrefetchPlanner planner;
    private CacheOptions.Prefetch prefetch = CacheOptions.Prefetch.NONE;
    private Recorder recorder;
    private long stepId;

    Instrumentation(Transformer transformer, Model model, ExpertServing experts) {
        this.transformer = transformer;
        this.model = model;
        this.experts = experts;
        install();
    }

    /** The caller's routing observer (null for none), told after recording, statistics and the planner. */
    void observe(RouterObserver observer) {
        userObserver = observer;
        install();
    }

    /**
     * Prefetches into the cache by the predictor {@code p} names (re-planned when the routing options change which
     * layers run their MoE).
     */
    void prefetch(CacheOptions.Prefetch p) {
        ExpertCache cache = experts.cache;
        if (cache == null || p.predictor() == moed.predictor.PredictorKind.NONE) {
            return;
        }
        prefetch = p;
        var c = model.config();
        boolean[] moe = new boolean[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            // Layers whose MoE is skipped or whose experts are pinned need no prefetching.
            moe[l] = model.layer(l).router() != null && !transformer.routing().skipsMoe(l) && !experts.pinnedLayers[l];
        }
        PrefetchPlanner pl = new PrefetchPlanner(cache, Predictors.create(p.predictor(), model, experts.store), moe, c.experts(),
                c.expertsUsed(), p.lookahead(), p.margin(), 0.9f, Float.parseFloat(System.getProperty("moed.prefetch.minPrecision", String.valueOf(PrefetchPlanner.MIN_PRECISION))));
        planner = pl;
        pl.listen(this::recordPrediction);
        transformer.hook(new LayerHook() {
            @Override
            public void beforeLayer(int layer, float[][] x, int n) {
                for (int i = 0; i < n; i++) {
                    pl.beforeLayer(layer, i, x[i]);
                }
            }

            @Override
            public void afterAttention(int layer, float[][] x, int n) {
                for (int i = 0; i < n; i++) {
                    pl.afterAttention(layer, i, x[i]);
                }
            }

            @Override
            public void routed(int layer, int[] counts, int experts) {
                pl.routed(layer, counts, experts);
            }

            @Override
            public void afterStep() {
                pl.nextToken();
            }
        });
        install();
    }

    /** Plans again after the routing options changed which layers run their MoE. */
    void replan() {
        if (planner != null) {
            prefetch(prefetch);
        }
    }

    PrefetchPlanner planner() {
        return planner;
    }

    /** How the start-up report describes prefetching. */
    String describePrefetch() {
        return planner == null ? "none"
                : planner.predictorName() + ", look-ahead " + prefetch.lookahead() + ", margin " + prefetch.margin();
    }

    /** Records moed's JFR events into {@code file} (keeping at most maxBytes of the newest, 0: all), opened by a session event. */
    void startRecording(Path file, long maxBytes) throws IOException {
        var c = model.config();
        ExpertCache cc = experts.cache;
        recorder = new Recorder(file, cc == null ? null
                : () -> new Recorder.CacheLevel(cc.residentBytes(), cc.budgetBytes(), cc.residentCount()), maxBytes);
        Events.Session s = new Events.Session();
        s.model = model.file().path().getFileName().toString();
        s.layers = c.layers();
        s.experts = c.experts();
        s.expertsUsed = c.expertsUsed();
        // The experts the cache serves (pinned layers take none of its slots), or all of them without a cache.
        var layout = cc != null ? cc.layout() : model.expertLayout();
        // The mean: when the layers' experts differ in size, each size class holds the same share of its experts, so a
        // cache of n experts takes n times the mean (analyze converts capacities to bytes with it). With one size, that.
        s.expertBytes = layout != null && layout.entryCount() > 0 ? layout.totalExpertBytes() / layout.entryCount() : 0;
        s.budgetBytes = cc != null ? cc.budgetBytes() : 0;
        s.slots = cc != null ? cc.slotCount() : 0;
        s.slotClasses = cc != null ? SlotClass.describe(cc.slotClasses()) : "";
        s.backing = cc != null ? cc.backingName() : "none";
        s.policy = cc != null ? cc.policyName() : "none";
        s.predictor = planner != null ? planner.predictorName() : "none";
        s.commit();
        install();
    }

    void stopRecording() {
        if (recorder != null) {
            recorder.close();
            recorder = null;
            install();
        }
    }

    /** The recording's file, or null when not recording. */
    Path recordingFile() {
        return recorder != null ? recorder.file() : null;
    }

    /** Starts the next forward step: the id its routing decisions, predictions and TokenStep event carry. */
    long nextStep() {
        return ++stepId;
    }

    /** Commits a finished step's event: {@code tokens} rows, {@code promptTokens} of them prompt rows mixed into a decode step. */
    void commitStep(Events.TokenStep ev, long request, int phase, int tokens, int promptTokens) {
        if (ev.shouldCommit()) {
            ev.request = request;
            ev.step = stepId;
            ev.phase = phase;
            ev.tokens = tokens;
            ev.promptTokens = promptTokens;
            ev.commit();
        }
    }

    private void recordPrediction(int token, int layer, int distance, int[] ex, int n) {
        Events.Prediction ev = new Events.Prediction();
        if (ev.shouldCommit()) {
            ev.step = stepId;
            ev.token = token;
            ev.layer = layer;
            ev.distance = distance;
            ev.count = Math.min(n, Events.Prediction.MAX_EXPERTS);
            ev.experts0 = Packing.ids(ex, ev.count, 0);
            ev.experts1 = Packing.ids(ex, ev.count, 4);
            ev.experts2 = Packing.ids(ex, ev.count, 8);
            ev.experts3 = Packing.ids(ex, ev.count, 12);
            ev.commit();
        }
    }

    private void recordDecision(long sequence, int pos, int layer, int[] ex, float[] w, int k, int rerouted) {
        Events.RouterDecision.emit(sequence, stepId, pos, layer, ex, w, k, rerouted);
    }

    /** Tells the transformer one observer that fans out to the parts that are on (or the caller's alone, or none). */
    private void install() {
        RouterObserver user = userObserver;
        ExpertStatistics st = experts.statistics;
        PrefetchPlanner p = planner;
        boolean rec = recorder != null;
        if (st == null && p == null && !rec) {
            transformer.observe(user);
            return;
        }
        transformer.observe((seq, pos, layer, ex, w, k, rerouted) -> {
            if (rec) {
                recordDecision(seq, pos, layer, ex, w, k, rerouted);
            }
            if (st != null) {
                st.recordRoute(pos, layer, ex, k);
            }
            if (p != null) {
                p.observe(layer, ex, k);
            }
            if (user != null) {
                user.onRoute(seq, pos, layer, ex, w, k, rerouted);
            }
        });
    }
}
