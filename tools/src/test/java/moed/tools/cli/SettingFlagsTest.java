package moed.tools.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import moed.cache.Backing;
import moed.cache.EvictionPolicy;
import moed.cache.ExpertCache;
import moed.predictor.PredictorKind;
import moed.runtime.config.CacheOptions;
import moed.runtime.config.Setting;
import moed.runtime.config.SettingException;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The CLI's side of typed settings: every setting has a flag, and flag values read as the names the enums print. */
class SettingFlagsTest {
    @Test
    void everySettingHasAFlag() {
        for (Setting s : Setting.values()) {
            assertTrue(SettingFlags.flag(s).startsWith("-"), s.name());
        }
    }

    @Test
    void readsEnumsByTheNamesTheyPrint() {
        assertEquals(PredictorKind.GATE_PRIOR, SettingFlags.byName(PredictorKind.class, "gate+prior"));
        assertEquals(EvictionPolicy.Kind.HEAT, SettingFlags.byName(EvictionPolicy.Kind.class, "HEAT"));
        assertEquals(Backing.DIRECT, SettingFlags.byName(Backing.class, "direct"));
        assertEquals(ExpertCache.OnMiss.WAIT, SettingFlags.byName(ExpertCache.OnMiss.class, "wait"));
        var e = assertThrows(CommandLine.TypeConversionException.class, () -> SettingFlags.byName(Backing.class, "nfs"));
        assertEquals("'nfs' is not one of mmap, direct", e.getMessage());
    }

    @Test
    void cacheSettingsAreCheckedWhereTheyAreMade() {
        var miss = assertThrows(SettingException.class,
                () -> new CacheOptions.Tier(1 << 20, Backing.DIRECT, EvictionPolicy.Kind.LRU, ExpertCache.OnMiss.DIRECT, 2));
        assertEquals(Setting.ON_MISS, miss.setting());
        var predictor = assertThrows(SettingException.class,
                () -> CacheOptions.NONE.with(new CacheOptions.Prefetch(PredictorKind.GATE, 1, 0)));
        assertEquals(Setting.PREDICTOR, predictor.setting());
        assertEquals(Setting.LOOKAHEAD, assertThrows(SettingException.class,
                () -> new CacheOptions.Prefetch(PredictorKind.GATE, 3, 0)).setting());
    }

    @Test
    void theCliPointsARuntimeSettingErrorAtItsFlag() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        int code;
        try {
            System.setErr(new PrintStream(err, true));
            code = MoedCli.execute("run", "-p", "x", "--predictor", "gate");
        } finally {
            System.setErr(old);
        }
        assertEquals(1, code);
        assertTrue(err.toString().contains("give the cache a size too [--predictor]"), err.toString());
    }
}
