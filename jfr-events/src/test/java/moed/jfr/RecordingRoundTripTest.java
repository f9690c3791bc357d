package moed.jfr;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import moed.jfr.read.MoedRecording;
import moed.jfr.read.RecordingReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Events written through the Recorder come back from the reader with every field intact. */
class RecordingRoundTripTest {
    @TempDir
    Path dir;

    @Test
    void packingKeepsIdsAndHalfPrecisionWeights() {
        int[] ids = {0, 7, 65535, 300, 12, 1, 2, 99};
        float[] w = {0.5f, 0.25f, 0.125f, 1f, 0.0625f, 0.75f, 0.375f, 0.2f};
        for (int k = 1; k <= 8; k++) {
            int[] back = Packing.unpackIds(k, Packing.ids(ids, k, 0), Packing.ids(ids, k, 4));
            assertArrayEquals(java.util.Arrays.copyOf(ids, k), back, "k=" + k);
            float[] wb = Packing.unpackHalves(Packing.halves(w, k, 0), Packing.halves(w, k, 4), k);
            for (int i = 0; i < k; i++) {
                assertEquals(Float.float16ToFloat(Float.floatToFloat16(w[i])), wb[i], 0f);
            }
        }
    }

    @Test
    void everyEventTypeRoundTrips() throws Exception {
        Path file = dir.resolve("run.jfr");
        try (Recorder r = new Recorder(file, () -> new Recorder.CacheLevel(1000, 4000, 3))) {
            Events.Session s = new Events.Session();
            s.model = "m.gguf";
            s.layers = 2;
            s.experts = 16;
            s.expertsUsed = 6;
            s.expertBytes = 1234;
            s.slots = 9;
            s.policy = "lfu";
            s.commit();
            Events.TokenStep step = new Events.TokenStep();
            step.begin();
            Events.RouterDecision d = new Events.RouterDecision();
            int[] ex = {3, 1, 15, 0, 9, 4};
            float[] w = {0.25f, 0.25f, 0.125f, 0.125f, 0.125f, 0.125f};
            d.request = 5;
            d.step = 11;
            d.position = 42;
            d.layer = 1;
            d.k = 6;
            d.experts0 = Packing.ids(ex, 6, 0);
            d.experts1 = Packing.ids(ex, 6, 4);
            d.weights0 = Packing.halves(w, 6, 0);
            d.weights1 = Packing.halves(w, 6, 4);
            d.commit();
            Events.Prediction p = new Events.Prediction();
            int[] pred = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
            p.step = 11;
            p.token = 0;
            p.layer = 1;
            p.distance = 2;
            p.count = 10;
            p.experts0 = Packing.ids(pred, 10, 0);
            p.experts1 = Packing.ids(pred, 10, 4);
            p.experts2 = Packing.ids(pred, 10, 8);
            p.experts3 = Packing.ids(pred, 10, 12);
            p.commit();
            Events.ExpertAccess a = new Events.ExpertAccess();
            a.layer = 1;
            a.expert = 15;
            a.outcome = Events.ExpertAccess.MISS;
            a.waitNanos = 777;
            a.commit();
            Events.ExpertLoad l = new Events.ExpertLoad();
            l.begin();
            l.end();
            l.layer = 1;
            l.expert = 15;
            l.bytes = 1234;
            l.reason = Events.ExpertLoad.PREFETCH;
            l.tier = "direct";
            l.commit();
            step.end();
            step.request = 5;
            step.step = 11;
            step.phase = Events.TokenStep.DECODE;
            step.tokens = 1;
            step.commit();
        }
        MoedRecording rec = RecordingReader.read(file);
        assertEquals("m.gguf", rec.session().model());
        assertEquals(6, rec.session().expertsUsed());
        assertEquals("lfu", rec.session().policy());
        assertEquals(1, rec.decisions().size());
        MoedRecording.Decision d = rec.decisions().get(0);
        assertEquals(42, d.position());
        assertEquals(11, d.step());
        assertArrayEquals(new int[] {3, 1, 15, 0, 9, 4}, d.experts());
        assertEquals(0.125f, d.weights()[5], 0f);
        assertArrayEquals(new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, rec.predictions().get(0).experts());
        assertEquals(2, rec.predictions().get(0).distance());
        assertEquals(777, rec.accesses().get(0).waitNanos());
        assertEquals(Events.ExpertAccess.MISS, rec.accesses().get(0).outcome());
        assertEquals("direct", rec.loads().get(0).tier());
        assertEquals(1234, rec.loads().get(0).bytes());
        assertEquals(1, rec.steps().size());
        assertEquals(Events.TokenStep.DECODE, rec.steps().get(0).phase());
        assertEquals(Events.ExpertLoad.PREFETCH, rec.loads().get(0).reason());
        assertTrue(rec.steps().get(0).nanos() > 0);
        // Time order: the step began before the decision inside it.
        assertTrue(rec.steps().get(0).time() <= d.time());
    }

    @Test
    void decisionsOfMoreThanEightExpertsComeBackWhole() throws Exception {
        Path file = dir.resolve("wide.jfr");
        int[] ten = {11, 3, 7, 0, 9, 2, 5, 1, 8, 4};
        float[] tenW = {0.3f, 0.2f, 0.1f, 0.1f, 0.05f, 0.05f, 0.05f, 0.05f, 0.05f, 0.05f};
        int[] seventeen = new int[17];
        float[] seventeenW = new float[17];
        for (int i = 0; i < 17; i++) {
            seventeen[i] = 40 - i;
            seventeenW[i] = 1f / (i + 1);
        }
        try (Recorder r = new Recorder(file, null)) {
            Events.RouterDecision.emit(1, 2, 3, 0, ten, tenW, 10, 1);
            // Another thread's decision read between the parts of a wide one: written here by hand, second part first.
            part(9, 0, 17, 8, seventeen, seventeenW);
            Events.RouterDecision.emit(1, 2, 3, 1, new int[] {6, 5}, new float[] {0.5f, 0.5f}, 2, 0);
            part(9, 0, 17, 0, seventeen, seventeenW);
            part(9, 0, 17, 16, seventeen, seventeenW);
        }
        MoedRecording rec = RecordingReader.read(file);
        assertEquals(3, rec.decisions().size());
        MoedRecording.Decision a = rec.decisions().get(0);
        assertArrayEquals(ten, a.experts());
        assertEquals(Float.float16ToFloat(Float.floatToFloat16(0.05f)), a.weights()[9], 0f);
        assertEquals(1, a.rerouted());
        assertArrayEquals(new int[] {6, 5}, rec.decisions().get(1).experts());
        MoedRecording.Decision c = rec.decisions().get(2);
        assertEquals(9, c.request());
        assertArrayEquals(seventeen, c.experts());
        assertEquals(Float.float16ToFloat(Float.floatToFloat16(1f / 17)), c.weights()[16], 0f);
    }

    private static void part(long request, int layer, int k, int first, int[] ex, float[] w) {
        Events.RouterDecision.emitPart(request, 0, 0, layer, ex, w, k, first, 0);
    }

    @Test
    void aFileThatIsNotARecordingIsNamed() throws Exception {
        Path junk = dir.resolve("junk.jfr");
        Files.writeString(junk, "no flight recorder here");
        IOException e = assertThrows(IOException.class, () -> RecordingReader.read(junk));
        assertTrue(e.getMessage().startsWith(junk + " is not a readable JFR recording"), e.getMessage());
        e = assertThrows(IOException.class, () -> RecordingReader.read(dir.resolve("none.jfr")));
        assertTrue(e.getMessage().contains("make one with --jfr FILE"), e.getMessage());
    }
}
