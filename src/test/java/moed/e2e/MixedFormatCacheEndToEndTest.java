package moed.e2e;

import static moed.e2e.CliEndToEndTest.moed;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A file whose layers store their experts in different formats (the low-bit "dynamic" fixture: 53.5 KiB experts in
 * layer 0, 43.5 KiB in layer 1) through an expert cache too small for all of them: the cache gives each layer slots
 * of its own size, and greedy tokens are those of the run without a cache, from either backing.
 */
class MixedFormatCacheEndToEndTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"mmap", "direct"})
    void slotsFollowEachLayersFormatAndTokensDoNotChange(String backing) throws Exception {
        Path file = LowBitKnownAnswerTest.fixture(dir, "dynamic.gguf");
        String prompt = "The old king looked at the sea and said";
        CliEndToEndTest.Result plain = moed("run", "-m", file.toString(), "-p", prompt, "-n", "24", "--no-stats", "--output", "json");
        assertEquals(0, plain.code(), plain.err());
        // 0.3 MiB holds six or seven of the eight experts' worth: a top-2 of each layer and a little more.
        CliEndToEndTest.Result cached = moed("run", "-m", file.toString(), "-p", prompt, "-n", "24", "--no-stats", "--output", "json",
                "--cache-mb", "0.3", "--backing", backing);
        assertEquals(0, cached.code(), cached.err());
        JsonNode a = JSON.readTree(plain.out());
        JsonNode b = JSON.readTree(cached.out());
        assertEquals(a.get("generated_ids"), b.get("generated_ids"), "greedy tokens with and without the cache");
        JsonNode classes = b.get("cache").get("slot_classes");
        assertEquals(2, classes.size(), "one slot size per layer format: " + classes);
        assertNotEquals(classes.get(0).get("slot_mib").asDouble(), classes.get(1).get("slot_mib").asDouble(), classes.toString());
        for (JsonNode c : classes) {
            assertTrue(c.get("slots").asInt() >= 2, "at least one layer's top-k per class: " + classes);
        }
        double hit = b.get("cache").get("decode_hit_rate").asDouble();
        assertTrue(hit < 1, "the cache is smaller than the experts, so some accesses miss: " + b.get("cache"));
    }
}
