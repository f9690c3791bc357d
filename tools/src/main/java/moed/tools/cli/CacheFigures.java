package moed.tools.cli;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import moed.cache.CacheCounters;
import moed.cache.ExpertCache;
import moed.cache.SlotClass;
import moed.runtime.Engine;

/**
 * The expert cache's figures over decode, under the same keys wherever a command prints JSON ({@code run --output
 * json}, {@code bench --json}): its size, how often decode found its experts, how long it waited, how much it read.
 */
final class CacheFigures {
    private CacheFigures() {
    }

    /** Totals over several decode phases: {@code into} plus what happened between {@code before} and {@code after}. */
    static CacheCounters add(CacheCounters into, CacheCounters before, CacheCounters after) {
        CacheCounters d = after.since(before);
        into.hits += d.hits;
        into.misses += d.misses;
        into.prefetchHits += d.prefetchHits;
        into.prefetchLate += d.prefetchLate;
        into.stallNanos += d.stallNanos;
        into.bytesLoaded += d.bytesLoaded;
        into.loadNanos += d.loadNanos;
        return into;
    }

    /** The figures of {@code decode} (the cache's counters over {@code steps} decode steps that took {@code decodeNanos}). */
    static Map<String, Object> decode(Engine e, CacheCounters decode, long steps, long decodeNanos) {
        ExpertCache c = e.cache();
        long perStep = Math.max(steps, 1);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("budget_mib", c.budgetBytes() / 1048576.0);
        m.put("experts_fit", c.slotCount());
        m.put("experts_total", e.model().expertLayout().entryCount());
        m.put("slot_classes", slotClasses(c.slotClasses()));
        m.put("backing", c.backingName());
        m.put("policy", c.policyName());
        // By how routing found each expert (see CacheCounters): the hit rate is comparable with the replays.
        m.put("decode_hit_rate", decode.hitRate());
        m.put("decode_prefetch_in_time_rate", decode.prefetchHitRate());
        m.put("decode_prefetch_late_rate", decode.prefetchLateRate());
        m.put("decode_demand_rate", decode.missRate());
        m.put("decode_stall_ms_per_token", decode.stallNanos / 1e6 / perStep);
        m.put("decode_mb_read_per_token", decode.bytesLoaded / 1e6 / perStep);
        m.put("decode_ms_per_token", decodeNanos / 1e6 / perStep);
        m.put("backing_read_gbps", decode.loadNanos == 0 ? 0.0 : decode.bytesLoaded / (double) decode.loadNanos);
        return m;
    }

    /**
     * The cache's slots by size, smallest first: one entry when every layer's experts have one size, one per size
     * when the layers store them in different formats (each size with its share of the budget).
     */
    private static List<Map<String, Object>> slotClasses(List<SlotClass> classes) {
        return classes.stream().map(k -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("slot_mib", k.slotBytes() / 1048576.0);
            m.put("slots", k.slots());
            m.put("experts", k.experts());
            m.put("layers", k.layerRanges());
            return m;
        }).toList();
    }
}
