package moed.tools.http;

import io.prometheus.metrics.config.EscapingScheme;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntPredicate;
import moed.cache.CacheCounters;
import moed.cache.ExpertCache;
import moed.runtime.StopReason;
import moed.runtime.serve.BatchScheduler;
import moed.tools.serve.Daemon;

/**
 * {@code GET /metrics}: the daemon's counters in Prometheus's text format, read at scrape time from the scheduler
 * and the expert cache (nothing is counted twice or kept here but the HTTP status counts). Written with Prometheus's
 * own model and writer, so names, units and escaping follow its conventions ({@code _total} counters, base units).
 */
final class Metrics {
    static final String CONTENT_TYPE = PrometheusTextFormatWriter.CONTENT_TYPE;

    private final Map<Labels, LongAdder> httpRequests = new ConcurrentHashMap<>();

    /** Counts one HTTP reply; {@code route} is a known path or "other", so a scanner cannot grow the label set. */
    void countHttp(String route, int status) {
        httpRequests.computeIfAbsent(Labels.of("code", Integer.toString(status), "route", route), k -> new LongAdder()).increment();
    }

    byte[] scrape(Daemon daemon) throws IOException {
        List<MetricSnapshot> m = new ArrayList<>();
        var http = CounterSnapshot.builder().name("moed_http_requests").help("HTTP requests answered, by route and status code");
        httpRequests.forEach((labels, n) -> http.dataPoint(counter(labels, n.sum())));
        m.add(http.build());
        if (daemon != null) {
            scheduler(m, daemon.scheduler().status());
            ExpertCache cache = daemon.engine().cache();
            if (cache != null) {
                var c = daemon.engine().model().config();
                cache(m, cache, c.layers(), c.experts(), daemon.engine()::cachesLayer);
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(8192);
        PrometheusTextFormatWriter.create().write(out, new MetricSnapshots(m), EscapingScheme.UNDERSCORE_ESCAPING);
        return out.toByteArray();
    }

    private static void scheduler(List<MetricSnapshot> m, BatchScheduler.Status s) {
        var outcomes = CounterSnapshot.builder().name("moed_requests")
                .help("Requests ended, by outcome (eos, stop, length, context, cancelled, error, shutdown)");
        for (StopReason r : StopReason.values()) {
            outcomes.dataPoint(counter(Labels.of("outcome", r.toString()), s.outcome(r)));
        }
        m.add(outcomes.build());
        m.add(counter("moed_requests_refused", "Requests refused because the queue was full (HTTP 429, IPC 'busy')", null, s.refusedFull()));
        m.add(counter("moed_prompt_tokens", "Prompt tokens of admitted requests", null, s.promptTokens()));
        m.add(counter("moed_generated_tokens", "Tokens generated", null, s.tokensGenerated()));
        m.add(gauge("moed_decode_tokens_per_second", "Decode rate of the latest step, over all sequences in it", s.decodeTokensPerSecond()));
        m.add(gauge("moed_queued_requests", "Requests waiting for a place", s.queued()));
        m.add(gauge("moed_active_sequences", "Sequences being prefilled or decoded", s.active()));
    }

    private static void cache(List<MetricSnapshot> m, ExpertCache cache, int layers, int experts, IntPredicate cached) {
        CacheCounters k = cache.counters();
        m.add(byResult("moed_expert_accesses", "Expert uses by the forward pass: resident (hit), prefetched in time, prefetched late,"
                + " loaded on demand (miss)", "hit", k.hits, "prefetch_hit", k.prefetchHits, "prefetch_late", k.prefetchLate, "miss", k.misses));
        m.add(counter("moed_expert_stall_seconds", "Time the forward pass waited for experts to load", Unit.SECONDS, k.stallNanos / 1e9));
        m.add(counter("moed_expert_read_bytes", "Bytes of experts read from the backing store", Unit.BYTES, k.bytesLoaded));
        m.add(counter("moed_expert_loads", "Expert loads completed", null, k.loads));
        m.add(counter("moed_expert_load_failures", "Expert loads that failed", null, k.loadFailures));
        m.add(counter("moed_expert_evictions", "Experts evicted to make room", null, k.evictions));
        m.add(byResult("moed_prefetches", "Prefetches: issued, used before eviction, evicted unused (wasted), cancelled before"
                + " their read, stopped mid-read", "issued", k.prefetchIssued, "used", k.prefetchUsed, "wasted", k.prefetchWasted,
                "cancelled", k.prefetchCancelled, "stopped", k.prefetchStopped));
        m.add(gauge("moed_expert_load_queue_depth", "Expert loads queued or reading", cache.loadingCount()));
        m.add(gauge("moed_cache_resident_bytes", "Bytes of experts resident in the cache", Unit.BYTES, cache.residentBytes()));
        m.add(gauge("moed_cache_budget_bytes", "The cache's byte budget", Unit.BYTES, cache.budgetBytes()));
        var perLayer = CounterSnapshot.builder().name("moed_layer_expert_accesses").help("Expert uses per layer, by result as moed_expert_accesses");
        for (int l = 0; l < layers; l++) {
            long hit = 0, prefetched = 0, late = 0, miss = 0;
            for (int e = l * experts, end = e + experts; e < end && e < k.entryHits.length; e++) {
                hit += k.entryHits[e];
                prefetched += k.entryPrefetchHits[e];
                late += k.entryPrefetchLate[e];
                miss += k.entryMisses[e];
            }
            if (!cached.test(l)) {
                continue; // a dense layer, or one pinned by -ot: the cache never sees it
            }
            String layer = Integer.toString(l);
            perLayer.dataPoint(counter(Labels.of("layer", layer, "result", "hit"), hit));
            perLayer.dataPoint(counter(Labels.of("layer", layer, "result", "prefetch_hit"), prefetched));
            perLayer.dataPoint(counter(Labels.of("layer", layer, "result", "prefetch_late"), late));
            perLayer.dataPoint(counter(Labels.of("layer", layer, "result", "miss"), miss));
        }
        m.add(perLayer.build());
    }

    /** A counter with one sample per {@code result} label: pairs of label value and count. */
    private static CounterSnapshot byResult(String name, String help, Object... resultAndCount) {
        var b = CounterSnapshot.builder().name(name).help(help);
        for (int i = 0; i < resultAndCount.length; i += 2) {
            b.dataPoint(counter(Labels.of("result", (String) resultAndCount[i]), ((Number) resultAndCount[i + 1]).doubleValue()));
        }
        return b.build();
    }

    private static CounterSnapshot.CounterDataPointSnapshot counter(Labels labels, double value) {
        return CounterSnapshot.CounterDataPointSnapshot.builder().labels(labels).value(value).build();
    }

    private static CounterSnapshot counter(String name, String help, Unit unit, double value) {
        var b = CounterSnapshot.builder().name(name).help(help)
                .dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder().value(value).build());
        if (unit != null) {
            b.unit(unit);
        }
        return b.build();
    }

    private static GaugeSnapshot gauge(String name, String help, double value) {
        return gauge(name, help, null, value);
    }

    private static GaugeSnapshot gauge(String name, String help, Unit unit, double value) {
        var b = GaugeSnapshot.builder().name(name).help(help)
                .dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().value(value).build());
        if (unit != null) {
            b.unit(unit);
        }
        return b.build();
    }
}
