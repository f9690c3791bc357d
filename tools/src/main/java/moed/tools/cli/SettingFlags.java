package moed.tools.cli;

import java.util.EnumMap;
import java.util.Map;
import moed.cache.Backing;
import moed.cache.EvictionPolicy;
import moed.cache.ExpertCache;
import moed.predictor.PredictorKind;
import moed.runtime.config.Setting;
import picocli.CommandLine;

/**
 * The CLI's side of typed settings: which flag sets each {@link Setting} (so a runtime error can point at it), and
 * the conversion of flag values to the runtime's enums by the names they print ({@code gate+prior}, {@code lru}).
 */
final class SettingFlags {
    private static final Map<Setting, String> FLAGS = new EnumMap<>(Setting.class);

    static {
        FLAGS.put(Setting.CONTEXT_LENGTH, "-c/--ctx-size");
        FLAGS.put(Setting.PREFILL_BATCH, "-b/--batch-size");
        FLAGS.put(Setting.CACHE_SIZE, "--cache-gb/--cache-mb");
        FLAGS.put(Setting.BACKING, "--backing");
        FLAGS.put(Setting.CACHE_POLICY, "--cache-policy");
        FLAGS.put(Setting.ON_MISS, "--on-miss");
        FLAGS.put(Setting.IO_THREADS, "--io-threads");
        FLAGS.put(Setting.WARM_FRACTION, "--warm");
        FLAGS.put(Setting.PREDICTOR, "--predictor");
        FLAGS.put(Setting.LOOKAHEAD, "--lookahead");
        FLAGS.put(Setting.PREFETCH_MARGIN, "--prefetch-margin");
        FLAGS.put(Setting.TENSOR_OVERRIDE, "-ot/--override-tensor");
        FLAGS.put(Setting.EXPERT_REDUCTION, "-ser/--smart-expert-reduction");
        FLAGS.put(Setting.CACHE_AWARE_ROUTING, "--cache-aware-routing");
        FLAGS.put(Setting.SKIPPED_LAYERS, "--skip-layers");
        FLAGS.put(Setting.MAX_SEQUENCES, "--max-sequences");
        FLAGS.put(Setting.PERPLEXITY_CHUNKS, "--chunks");
        FLAGS.put(Setting.SHARED_EXPERT_HIDDEN, "--shared-ff");
        FLAGS.put(Setting.EXPERT_HIDDEN, "--expert-ff");
        for (Setting s : Setting.values()) {
            if (!FLAGS.containsKey(s)) {
                throw new AssertionError("no flag for the setting " + s.name());
            }
        }
    }

    private SettingFlags() {
    }

    /** The flag(s) that set {@code s}, as the help spells them. */
    static String flag(Setting s) {
        return FLAGS.get(s);
    }

    /** Lets picocli read the runtime's enums by the names they print, case-insensitively. */
    static void registerConverters(CommandLine cl) {
        register(cl, Backing.class);
        register(cl, EvictionPolicy.Kind.class);
        register(cl, ExpertCache.OnMiss.class);
        register(cl, PredictorKind.class);
    }

    private static <E extends Enum<E>> void register(CommandLine cl, Class<E> type) {
        cl.registerConverter(type, text -> byName(type, text));
    }

    static <E extends Enum<E>> E byName(Class<E> type, String text) {
        StringBuilder names = new StringBuilder();
        for (E e : type.getEnumConstants()) {
            if (e.toString().equalsIgnoreCase(text)) {
                return e;
            }
            names.append(names.isEmpty() ? "" : ", ").append(e.toString().toLowerCase());
        }
        throw new CommandLine.TypeConversionException("'" + text + "' is not one of " + names);
    }
}
