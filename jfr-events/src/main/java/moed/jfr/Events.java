package moed.jfr;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.Period;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/**
 * moed's JFR event types. Names are stable (readers depend on them): {@code moed.Session}, {@code moed.RouterDecision},
 * {@code moed.ExpertAccess}, {@code moed.ExpertLoad}, {@code moed.Prefetch}, {@code moed.Eviction},
 * {@code moed.TokenStep}, {@code moed.Request}, {@code moed.CacheGauge}. None records a stack trace.
 *
 * <p>Fields that say what happened (an access's outcome, a load's reason, a prefetch's action, a step's phase) are
 * int codes, so that emitting them allocates nothing; each code is named once, on its event class, and the writers
 * (cache, runtime) and the readers ({@code moed analyze}) use those names. The values are part of the recording
 * format: old recordings must still read the same, so a value never changes meaning and new ones are appended.
 */
public final class Events {
    private Events() {
    }

    public static final String SESSION = "moed.Session";
    public static final String ROUTER_DECISION = "moed.RouterDecision";
    public static final String EXPERT_ACCESS = "moed.ExpertAccess";
    public static final String EXPERT_LOAD = "moed.ExpertLoad";
    public static final String PREFETCH = "moed.Prefetch";
    public static final String EVICTION = "moed.Eviction";
    public static final String TOKEN_STEP = "moed.TokenStep";
    public static final String REQUEST = "moed.Request";
    public static final String CACHE_GAUGE = "moed.CacheGauge";
    public static final String PREDICTION = "moed.Prediction";

    /** What a recording is about: written once when recording starts. */
    @Name(SESSION) @Label("Session") @Category({"moed"}) @StackTrace(false)
    @Description("The model and cache configuration of the recording")
    public static final class Session extends Event {
        @Label("Model") public String model;
        @Label("Layers") public int layers;
        @Label("Experts per layer") public int experts;
        @Label("Experts used per token") public int expertsUsed;
        @Label("Bytes per expert") @Description("The mean when the layers store their experts in formats of different sizes")
        @DataAmount public long expertBytes;
        @Label("Cache budget") @DataAmount public long budgetBytes;
        @Label("Cache slots") public int slots;
        @Label("Cache slot sizes") @Description("How many slots of each size, for which layers; empty without a cache")
        public String slotClasses;
        @Label("Backing") public String backing;
        @Label("Policy") public String policy;
        @Label("Predictor") public String predictor;
    }

    /**
     * One token's routing at one layer: the chosen experts, best first, and their weights. An event packs
     * {@link Packing#PER_EVENT} of them; a decision of more (Qwen3-Next routes 10) is recorded as consecutive events
     * with the same request, step, position and layer, {@code first} = 0, 8, 16..., each carrying the experts from
     * {@code first} on and the decision's whole {@code k}. Recordings made before {@code first} existed have one
     * event per decision (their k was at most 8) and read as {@code first} = 0.
     */
    @Name(ROUTER_DECISION) @Label("Router Decision") @Category({"moed", "Routing"}) @StackTrace(false)
    public static final class RouterDecision extends Event {
        @Label("Request") public long request;
        @Label("Step") public long step;
        @Label("Position") public int position;
        @Label("Layer") public int layer;
        @Label("k") public int k;
        @Label("Index of this event's first expert in the decision") public int first;
        @Label("Experts first..first+3 (16 bits each)") public long experts0;
        @Label("Experts first+4..first+7 (16 bits each)") public long experts1;
        @Label("Weights first..first+3 (F16 each)") public long weights0;
        @Label("Weights first+4..first+7 (F16 each)") public long weights1;
        @Label("Experts replaced by cache-aware routing") public int rerouted;

        /**
         * Records a decision of any k as one event per {@link Packing#PER_EVENT} experts; allocates nothing beyond
         * the events themselves (which the JIT scalar-replaces, as for every event emitted here).
         */
        public static void emit(long request, long step, int position, int layer, int[] experts, float[] weights, int k,
                                int rerouted) {
            for (int first = 0; first < k; first += Packing.PER_EVENT) {
                if (!emitPart(request, step, position, layer, experts, weights, k, first, rerouted)) {
                    return;
                }
            }
        }

        /** Records the part of a decision that starts at expert {@code first}; false when the event is not enabled. */
        public static boolean emitPart(long request, long step, int position, int layer, int[] experts, float[] weights,
                                       int k, int first, int rerouted) {
            RouterDecision d = new RouterDecision();
            if (!d.shouldCommit()) {
                return false;
            }
            d.request = request;
            d.step = step;
            d.position = position;
            d.layer = layer;
            d.k = k;
            d.first = first;
            d.experts0 = Packing.ids(experts, k, first);
            d.experts1 = Packing.ids(experts, k, first + 4);
            d.weights0 = Packing.halves(weights, k, first);
            d.weights1 = Packing.halves(weights, k, first + 4);
            d.rerouted = rerouted;
            d.commit();
            return true;
        }
    }

    /** The forward pass asked for an expert; {@code outcome} is one of the codes below. */
    @Name(EXPERT_ACCESS) @Label("Expert Access") @Category({"moed", "Cache"}) @StackTrace(false)
    public static final class ExpertAccess extends Event {
        /** The expert was resident when routing chose it (and not there by an unused prefetch). */
        public static final int HIT = 0;
        /** It was neither resident nor prefetched when routing chose it: loaded on demand, however early it arrived. */
        public static final int MISS = 1;
        /** A prediction had prefetched it, but it was still loading when the step needed it: the access waited. */
        public static final int PREFETCH_LATE = 2;
        /** It was not resident and was computed in place from the backing instead ({@code --on-miss direct}). */
        public static final int IN_PLACE = 3;
        /** A prediction had prefetched it and it was resident when the step needed it. */
        public static final int PREFETCH_HIT = 4;
        /** The number of outcome codes: arrays indexed by outcome have this length. */
        public static final int OUTCOMES = 5;

        @Label("Layer") public int layer;
        @Label("Expert") public int expert;
        @Label("Outcome") public int outcome;
        @Label("Wait") @Timespan public long waitNanos;
    }

    /** Bytes moved from the backing into the resident tier; duration is the read; {@code reason} one of the codes below. */
    @Name(EXPERT_LOAD) @Label("Expert Load") @Category({"moed", "Cache"}) @StackTrace(false)
    public static final class ExpertLoad extends Event {
        /** A forward pass is waiting for this expert. */
        public static final int DEMAND = 0;
        /** The predictor asked for it ahead of use. */
        public static final int PREFETCH = 1;
        /** Filling the cache at start with historically hot experts. */
        public static final int WARM = 2;

        @Label("Layer") public int layer;
        @Label("Expert") public int expert;
        @Label("Bytes") @DataAmount public long bytes;
        @Label("Reason") public int reason;
        @Label("Tier") public String tier;
    }

    /** A step in a prefetch's life; {@code action} is one of the codes below. */
    @Name(PREFETCH) @Label("Prefetch") @Category({"moed", "Cache"}) @StackTrace(false)
    public static final class Prefetch extends Event {
        /** The predictor asked for an expert that was not resident: a load was queued. */
        public static final int ISSUED = 0;
        /** A forward pass used the prefetched expert. */
        public static final int USED = 1;
        /** It was evicted before any use. */
        public static final int WASTED = 2;
        /** Its load was dropped before it started (the prediction went stale). */
        public static final int CANCELLED = 3;
        /** The number of action codes: arrays indexed by action have this length. */
        public static final int ACTIONS = 4;

        @Label("Layer") public int layer;
        @Label("Expert") public int expert;
        @Label("Action") public int action;
    }

    @Name(EVICTION) @Label("Eviction") @Category({"moed", "Cache"}) @StackTrace(false)
    public static final class Eviction extends Event {
        @Label("Layer") public int layer;
        @Label("Expert") public int expert;
    }

    /**
     * One forward step; duration is its time; {@code phase} one of the codes below. {@code tokens} counts the step's
     * decode rows (all rows in a prefill step); {@code promptTokens} the prompt rows a serving step mixed in with them.
     */
    @Name(TOKEN_STEP) @Label("Token Step") @Category({"moed", "Inference"}) @StackTrace(false)
    public static final class TokenStep extends Event {
        /** Only prompt rows. */
        public static final int PREFILL = 0;
        /**
         * At least one decode row. A serving step that mixes prompt rows in is a decode step too (its time is decode
         * time, the user waits on it for a token); its prompt rows are counted in {@code promptTokens}.
         */
        public static final int DECODE = 1;

        @Label("Request") public long request;
        @Label("Step") public long step;
        @Label("Phase") public int phase;
        @Label("Tokens") public int tokens;
        @Label("Prompt tokens mixed in") public int promptTokens;
    }

    /** A whole request, from prompt to last token. */
    @Name(REQUEST) @Label("Request") @Category({"moed", "Inference"}) @StackTrace(false)
    public static final class Request extends Event {
        @Label("Request") public long request;
        @Label("Prompt tokens") public int promptTokens;
        @Label("Generated tokens") public int generatedTokens;
        @Label("Stop reason") public String stopReason;
    }

    /**
     * The predictor's guess for a layer ahead, made while token {@code token} of step {@code step} was at an
     * earlier layer: up to 16 experts, 16 bits each, best first. Compared with that token's router decision at
     * {@code layer}, it gives the predictor's recall and precision.
     */
    @Name(PREDICTION) @Label("Prediction") @Category({"moed", "Routing"}) @StackTrace(false)
    public static final class Prediction extends Event {
        /** The most experts one prediction holds (four packed longs); a writer keeps the best this many. */
        public static final int MAX_EXPERTS = 16;

        @Label("Step") public long step;
        @Label("Token in step") public int token;
        @Label("Layer predicted") public int layer;
        @Label("Distance (layers ahead)") public int distance;
        @Label("Count") public int count;
        @Label("Experts 0-3") public long experts0;
        @Label("Experts 4-7") public long experts1;
        @Label("Experts 8-11") public long experts2;
        @Label("Experts 12-15") public long experts3;
    }

    /** Periodic: what the resident tier holds. */
    @Name(CACHE_GAUGE) @Label("Cache Gauge") @Category({"moed", "Cache"}) @StackTrace(false) @Period("1 s")
    public static final class CacheGauge extends Event {
        @Label("Resident bytes") @DataAmount public long residentBytes;
        @Label("Budget") @DataAmount public long budgetBytes;
        @Label("Resident experts") public int entries;
    }
}
