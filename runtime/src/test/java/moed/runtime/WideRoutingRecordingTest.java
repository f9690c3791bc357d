package moed.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import moed.jfr.read.MoedRecording;
import moed.jfr.read.RecordingReader;
import moed.kernels.GgmlType;
import moed.runtime.model.SyntheticModel;
import moed.runtime.sampling.SamplerConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A model that routes more experts than one JFR event packs (Qwen3-Next routes 10): the recording keeps them all. */
class WideRoutingRecordingTest {
    @TempDir
    Path dir;

    @Test
    void aTopTenModelsRecordingHoldsAllTenExpertsOfEveryDecision() throws Exception {
        Path model = dir.resolve("top10.gguf");
        SyntheticModel.write(new SyntheticModel.Spec(2, 256, 8, 4, 12, 10, 256, 400, GgmlType.Q8_0, 7, 64), model,
                (d, t) -> { });
        Path jfr = dir.resolve("run.jfr");
        List<String> seen = new ArrayList<>();
        try (Engine e = Engine.open(model, 1, 64, 8)) {
            e.observe((seq, pos, layer, ex, w, k, rerouted) -> seen.add(pos + ":" + layer + ":" + Arrays.toString(Arrays.copyOf(ex, k))));
            e.startRecording(jfr);
            e.generate("the cat sat", 4, SamplerConfig.GREEDY, null);
            e.stopRecording();
        }
        MoedRecording rec = RecordingReader.read(jfr);
        List<String> recorded = new ArrayList<>();
        for (MoedRecording.Decision d : rec.decisions()) {
            assertEquals(10, d.experts().length, "experts of one decision");
            assertEquals(10, d.weights().length, "weights of one decision");
            recorded.add(d.position() + ":" + d.layer() + ":" + Arrays.toString(d.experts()));
        }
        assertEquals(seen, recorded, "every decision, in order, with its ten experts");
        assertArrayEquals(new int[] {10}, rec.decisions().stream().mapToInt(d -> d.experts().length).distinct().toArray());
    }
}
