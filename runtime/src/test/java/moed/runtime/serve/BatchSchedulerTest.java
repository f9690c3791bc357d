package moed.runtime.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import moed.runtime.Engine;
import moed.runtime.StopReason;
import moed.runtime.TestFiles;
import moed.runtime.sampling.SamplerConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Continuous batching gives every request exactly what it would get alone. */
class BatchSchedulerTest {
    static final String[] PROMPTS = {
        "The old king looked at the sea and said",
        "Once upon a time there was a little girl who",
        "It is a truth universally acknowledged, that a single man",
        "The ship sailed",
        "She opened the door and",
        "In the morning the village was quiet, and the children",
    };

    /** What a stream received. */
    static final class Collected implements BatchScheduler.Stream {
        final List<Integer> ids = new ArrayList<>();
        final StringBuilder text = new StringBuilder();
        final CompletableFuture<String> end = new CompletableFuture<>();

        @Override
        public void token(int id, String piece) {
            if (id >= 0) {
                ids.add(id);
            }
            text.append(piece);
        }

        @Override
        public void done(StopReason reason, int promptTokens, int generatedTokens, long prefillNanos, long decodeNanos) {
            assertEquals(ids.size(), generatedTokens);
            end.complete(reason.toString());
        }

        @Override
        public void error(String code, String message) {
            end.complete("error:" + code + ":" + message);
        }

        int[] idArray() {
            return ids.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    @Test
    void batchedGreedyOutputsEqualSoloRuns() throws Exception {
        try (Engine e = Engine.open(TestFiles.defaultModel(), 2, 256, 8)) {
            int[][] solo = new int[PROMPTS.length][];
            String[] soloText = new String[PROMPTS.length];
            for (int i = 0; i < PROMPTS.length; i++) {
                Engine.Generation g = e.generate(PROMPTS[i], 12 + 3 * i, SamplerConfig.GREEDY, null);
                solo[i] = g.generatedIds();
                soloText[i] = g.text();
            }
            // Three at a time: the other three queue, and join as earlier ones (of different lengths) finish.
            BatchScheduler s = new BatchScheduler(e, 3);
            Collected[] got = new Collected[PROMPTS.length];
            for (int i = 0; i < PROMPTS.length; i++) {
                got[i] = new Collected();
                s.submit(PROMPTS[i], new BatchScheduler.Params(12 + 3 * i, SamplerConfig.GREEDY, List.of()), got[i]);
            }
            Thread t = new Thread(s::run);
            t.start();
            for (int i = 0; i < PROMPTS.length; i++) {
                assertEquals("length", got[i].end.get(60, TimeUnit.SECONDS));
                assertArrayEquals(solo[i], got[i].idArray(), "prompt " + i);
                assertEquals(soloText[i], got[i].text.toString(), "prompt " + i);
            }
            s.stop();
            t.join();
            assertEquals(PROMPTS.length, s.status().requestsDone());
        }
    }

    @Test
    void stopStringsCancelAndBadPrompts() throws Exception {
        try (Engine e = Engine.open(TestFiles.defaultModel(), 2, 64, 8)) {
            String full = e.generate(PROMPTS[0], 24, SamplerConfig.GREEDY, null).text();
            // The greedy continuation begins ", and the bighest of": stop at "bighest".
            assertTrue(full.contains("bighest"), full);
            BatchScheduler s = new BatchScheduler(e, 4);
            Collected stop = new Collected();
            Collected cancelled = new Collected();
            Collected empty = new Collected();
            Collected tooLong = new Collected();
            s.submit(PROMPTS[0], new BatchScheduler.Params(24, SamplerConfig.GREEDY, List.of("bighest")), stop);
            long id = s.submit(PROMPTS[1], new BatchScheduler.Params(40, SamplerConfig.GREEDY, List.of()), cancelled);
            s.submit("", new BatchScheduler.Params(5, SamplerConfig.GREEDY, List.of()), empty);
            s.submit("word ".repeat(80), new BatchScheduler.Params(5, SamplerConfig.GREEDY, List.of()), tooLong);
            s.runOnce();
            s.cancel(id);
            Thread t = new Thread(s::run);
            t.start();
            assertEquals("stop", stop.end.get(60, TimeUnit.SECONDS));
            assertEquals(full.substring(0, full.indexOf("bighest")), stop.text.toString());
            assertEquals("cancelled", cancelled.end.get(60, TimeUnit.SECONDS));
            assertTrue(cancelled.ids.size() < 40);
            assertTrue(empty.end.get(60, TimeUnit.SECONDS).startsWith("error:bad_request:the prompt is empty"));
            assertTrue(tooLong.end.get(60, TimeUnit.SECONDS).contains("shorten the prompt"), tooLong.end.get());
            s.stop();
            t.join();
        }
    }

    @Test
    void aModelFileTruncatedUnderTheServerFailsRequestsWithTheReasonAndServingGoesOn(@TempDir Path dir) throws Exception {
        Path copy = dir.resolve("model.gguf");
        Files.copy(TestFiles.defaultModel(), copy);
        try (Engine e = Engine.open(copy, 2, 64, 8)) {
            BatchScheduler s = new BatchScheduler(e, 2);
            Thread t = new Thread(s::run);
            t.start();
            Collected before = new Collected();
            s.submit(PROMPTS[0], new BatchScheduler.Params(4, SamplerConfig.GREEDY, List.of()), before);
            assertEquals("length", before.end.get(60, TimeUnit.SECONDS));
            try (FileChannel ch = FileChannel.open(copy, StandardOpenOption.WRITE)) {
                ch.truncate(ch.size() / 2);
            }
            Collected after = new Collected();
            s.submit(PROMPTS[1], new BatchScheduler.Params(4, SamplerConfig.GREEDY, List.of()), after);
            String end = after.end.get(60, TimeUnit.SECONDS);
            assertTrue(end.startsWith("error:step_failed:") && end.contains("shrank") && end.contains(copy.toString()), end);
            // The compute thread is still there: a cancel and a new request are still answered.
            Collected again = new Collected();
            long id = s.submit(PROMPTS[2], new BatchScheduler.Params(4, SamplerConfig.GREEDY, List.of()), again);
            s.cancel(id);
            assertTrue(again.end.get(60, TimeUnit.SECONDS).matches("cancelled|error:step_failed:.*"), again.end.get());
            assertTrue(t.isAlive());
            s.stop();
            t.join();
            var solo = assertThrows(IllegalStateException.class, () -> e.generate(PROMPTS[0], 2, SamplerConfig.GREEDY, null));
            assertTrue(solo.getMessage().contains("shrank"), solo.getMessage());
        }
    }
}
