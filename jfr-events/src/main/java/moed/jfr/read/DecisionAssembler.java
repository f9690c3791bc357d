package moed.jfr.read;

import java.util.HashMap;
import java.util.Map;
import jdk.jfr.consumer.RecordedEvent;
import moed.jfr.Events;
import moed.jfr.Packing;

/**
 * Puts router decisions back together. A decision of more than {@link Packing#PER_EVENT} experts is recorded as
 * several events ({@link Events.RouterDecision}); the visitor hears of it once, whole, when its last part has been
 * read. Parts are matched by request, step, position and layer, so other threads' events read in between do no
 * harm; a decision whose parts a cut-off recording lost is left out rather than told in part.
 */
final class DecisionAssembler {
    private record Key(long request, long step, int position, int layer) {
    }

    private static final class Partial {
        final int[] ids;
        final float[] weights;
        final long time;
        int read;

        Partial(int k, long time) {
            ids = new int[k];
            weights = new float[k];
            this.time = time;
        }
    }

    // A one-event decision, the common case, is unpacked here and handed over without allocating.
    private final int[] ids = new int[Packing.PER_EVENT];
    private final float[] weights = new float[Packing.PER_EVENT];
    private final Map<Key, Partial> open = new HashMap<>();

    void read(RecordedEvent e, long time, EventVisitor v) {
        int k = e.getInt("k");
        int first = e.hasField("first") ? e.getInt("first") : 0;
        long request = e.getLong("request");
        long step = e.getLong("step");
        int position = e.getInt("position");
        int layer = e.getInt("layer");
        int rerouted = e.hasField("rerouted") ? e.getInt("rerouted") : 0;
        if (first == 0 && k <= Packing.PER_EVENT) {
            unpack(e, Math.max(k, 0));
            v.decision(time, request, step, position, layer, ids, weights, Math.max(k, 0), rerouted);
            return;
        }
        if (first < 0 || first >= k) {
            return; // not a part of any decision: a damaged event
        }
        Key key = new Key(request, step, position, layer);
        Partial p = open.computeIfAbsent(key, x -> new Partial(k, time));
        if (p.ids.length != k) {
            return; // parts that disagree on k: a damaged event
        }
        int n = Math.min(Packing.PER_EVENT, k - first);
        unpack(e, n);
        System.arraycopy(ids, 0, p.ids, first, n);
        System.arraycopy(weights, 0, p.weights, first, n);
        p.read += n;
        if (p.read >= k) {
            open.remove(key);
            v.decision(Math.min(p.time, time), request, step, position, layer, p.ids, p.weights, k, rerouted);
        }
    }

    /** The event's first {@code n} experts and weights into {@link #ids} and {@link #weights}. */
    private void unpack(RecordedEvent e, int n) {
        RecordingReader.unpack(ids, n, e.getLong("experts0"), e.getLong("experts1"));
        long w0 = e.getLong("weights0");
        long w1 = e.getLong("weights1");
        for (int i = 0; i < n; i++) {
            long w = i < 4 ? w0 : w1;
            weights[i] = Float.float16ToFloat((short) (w >>> (16 * (i % 4))));
        }
    }
}
