package moed.jfr.read;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import moed.jfr.Events;

/**
 * A moed recording as plain data in memory, for small recordings and tests (large ones are streamed through an
 * {@link EventVisitor} instead). As an {@link EventSource} it plays its events in time order.
 */
public record MoedRecording(Session session, List<Decision> decisions, List<Access> accesses, List<Load> loads,
                            List<PrefetchAction> prefetches, List<Long> evictions, List<Step> steps,
                            List<Request> requests, List<Gauge> gauges, List<Prediction> predictions)
        implements EventSource {

    /** The model and cache set-up. */
    public record Session(String model, int layers, int experts, int expertsUsed, long expertBytes, long budgetBytes,
                          int slots, String backing, String policy, String predictor) {
    }

    public record Decision(long time, long request, long step, int position, int layer, int[] experts, float[] weights,
                           int rerouted) {
        public Decision(long time, long request, long step, int position, int layer, int[] experts, float[] weights) {
            this(time, request, step, position, layer, experts, weights, 0);
        }
    }

    /** {@code outcome}: an {@link Events.ExpertAccess} code ({@code HIT}, {@code MISS}, ...). */
    public record Access(long time, int layer, int expert, int outcome, long waitNanos) {
    }

    /** {@code reason}: an {@link Events.ExpertLoad} code ({@code DEMAND}, {@code PREFETCH}, {@code WARM}). */
    public record Load(long time, int layer, int expert, long bytes, long nanos, int reason, String tier) {
    }

    /** {@code action}: an {@link Events.Prefetch} code ({@code ISSUED}, {@code USED}, ...). */
    public record PrefetchAction(long time, int layer, int expert, int action) {
    }

    /** {@code phase}: an {@link Events.TokenStep} code; promptTokens: prompt rows mixed into a decode step. */
    public record Step(long time, long request, long step, int phase, int tokens, int promptTokens, long nanos) {
        public Step(long time, long request, long step, int phase, int tokens, long nanos) {
            this(time, request, step, phase, tokens, 0, nanos);
        }
    }

    public record Request(long time, long request, int promptTokens, int generatedTokens, String stopReason, long nanos) {
    }

    public record Gauge(long time, long residentBytes, long budgetBytes, int entries) {
    }

    public record Prediction(long time, long step, int token, int layer, int distance, int[] experts) {
    }

    /** Collects every event a source plays. */
    public static MoedRecording collect(EventSource source) throws IOException {
        Session[] session = new Session[1];
        List<Decision> decisions = new ArrayList<>();
        List<Access> accesses = new ArrayList<>();
        List<Load> loads = new ArrayList<>();
        List<PrefetchAction> prefetches = new ArrayList<>();
        List<Long> evictions = new ArrayList<>();
        List<Step> steps = new ArrayList<>();
        List<Request> requests = new ArrayList<>();
        List<Gauge> gauges = new ArrayList<>();
        List<Prediction> predictions = new ArrayList<>();
        source.scan(new EventVisitor() {
            @Override
            public void session(Session s) {
                session[0] = s;
            }

            @Override
            public void decision(long time, long request, long step, int position, int layer, int[] experts, float[] weights, int k,
                                 int rerouted) {
                decisions.add(new Decision(time, request, step, position, layer, Arrays.copyOf(experts, k), Arrays.copyOf(weights, k),
                        rerouted));
            }

            @Override
            public void access(long time, int layer, int expert, int outcome, long waitNanos) {
                accesses.add(new Access(time, layer, expert, outcome, waitNanos));
            }

            @Override
            public void load(long time, int layer, int expert, long bytes, long nanos, int reason, String tier) {
                loads.add(new Load(time, layer, expert, bytes, nanos, reason, tier));
            }

            @Override
            public void prefetch(long time, int layer, int expert, int action) {
                prefetches.add(new PrefetchAction(time, layer, expert, action));
            }

            @Override
            public void eviction(long time, int layer, int expert) {
                evictions.add(time);
            }

            @Override
            public void step(long time, long request, long step, int phase, int tokens, int promptTokens, long nanos) {
                steps.add(new Step(time, request, step, phase, tokens, promptTokens, nanos));
            }

            @Override
            public void request(long time, long request, int promptTokens, int generatedTokens, String stopReason, long nanos) {
                requests.add(new Request(time, request, promptTokens, generatedTokens, stopReason, nanos));
            }

            @Override
            public void gauge(long time, long residentBytes, long budgetBytes, int entries) {
                gauges.add(new Gauge(time, residentBytes, budgetBytes, entries));
            }

            @Override
            public void prediction(long time, long step, int token, int layer, int distance, int[] experts, int n) {
                predictions.add(new Prediction(time, step, token, layer, distance, Arrays.copyOf(experts, n)));
            }
        });
        return new MoedRecording(session[0], decisions, accesses, loads, prefetches, evictions, steps, requests, gauges,
                predictions);
    }

    /** Plays the events sorted by time (stable: equal times keep the order of the lists). */
    @Override
    public void scan(EventVisitor v) {
        record Item(long time, Runnable play) {
        }
        List<Item> items = new ArrayList<>();
        if (session != null) {
            items.add(new Item(Long.MIN_VALUE, () -> v.session(session)));
        }
        for (Step s : steps) {
            items.add(new Item(s.time(), () -> v.step(s.time(), s.request(), s.step(), s.phase(), s.tokens(), s.promptTokens(), s.nanos())));
        }
        for (Prediction p : predictions) {
            items.add(new Item(p.time(), () -> v.prediction(p.time(), p.step(), p.token(), p.layer(), p.distance(),
                    p.experts(), p.experts().length)));
        }
        for (Decision d : decisions) {
            items.add(new Item(d.time(), () -> v.decision(d.time(), d.request(), d.step(), d.position(), d.layer(),
                    d.experts(), d.weights(), d.experts().length, d.rerouted())));
        }
        for (Access a : accesses) {
            items.add(new Item(a.time(), () -> v.access(a.time(), a.layer(), a.expert(), a.outcome(), a.waitNanos())));
        }
        for (Load l : loads) {
            items.add(new Item(l.time(), () -> v.load(l.time(), l.layer(), l.expert(), l.bytes(), l.nanos(), l.reason(), l.tier())));
        }
        for (PrefetchAction p : prefetches) {
            items.add(new Item(p.time(), () -> v.prefetch(p.time(), p.layer(), p.expert(), p.action())));
        }
        for (Long t : evictions) {
            items.add(new Item(t, () -> v.eviction(t, -1, -1)));
        }
        for (Request r : requests) {
            items.add(new Item(r.time(), () -> v.request(r.time(), r.request(), r.promptTokens(), r.generatedTokens(),
                    r.stopReason(), r.nanos())));
        }
        for (Gauge g : gauges) {
            items.add(new Item(g.time(), () -> v.gauge(g.time(), g.residentBytes(), g.budgetBytes(), g.entries())));
        }
        items.sort(Comparator.comparingLong(Item::time));
        items.forEach(i -> i.play().run());
    }
}
