package moed.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** The reference engine's outputs (schema in src/test/resources/reference/README.md), one record per prompt. */
public record Reference(String prompt, int[] promptIds, int[] genIds, String genText, List<Position> positions) {

    public record Position(int pos, int token, int[] top5Ids, float[] top5Logits, int[][] experts, float[][] weights,
                           float[] margins) {
        public boolean nearTie() {
            return top5Logits[0] - top5Logits[1] < 0.01f;
        }
    }

    public static List<Reference> load(String modelFile) throws IOException {
        String res = "/reference/" + modelFile + ".jsonl";
        ObjectMapper om = new ObjectMapper();
        List<Reference> out = new ArrayList<>();
        try (InputStream in = Reference.class.getResourceAsStream(res)) {
            if (in == null) {
                throw new IOException("test resource " + res + " is missing");
            }
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line; (line = r.readLine()) != null; ) {
                if (line.isBlank()) {
                    continue;
                }
                JsonNode n = om.readTree(line);
                List<Position> ps = new ArrayList<>();
                for (JsonNode p : n.get("positions")) {
                    JsonNode t5 = p.get("top5");
                    int[] ids = new int[t5.size()];
                    float[] lg = new float[t5.size()];
                    for (int i = 0; i < t5.size(); i++) {
                        ids[i] = t5.get(i).get(0).asInt();
                        lg[i] = (float) t5.get(i).get(1).asDouble();
                    }
                    ps.add(new Position(p.get("pos").asInt(), p.get("token").asInt(), ids, lg, ints2(p.get("experts")),
                            floats2(p.get("weights")), floats(p.get("margin"))));
                }
                out.add(new Reference(n.get("prompt").asText(), ints(n.get("prompt_ids")), ints(n.get("gen_ids")),
                        n.get("gen_text").asText(), ps));
            }
        }
        return out;
    }

    static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = a.get(i).asInt();
        }
        return r;
    }

    static float[] floats(JsonNode a) {
        float[] r = new float[a.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = (float) a.get(i).asDouble();
        }
        return r;
    }

    static int[][] ints2(JsonNode a) {
        int[][] r = new int[a.size()][];
        for (int i = 0; i < r.length; i++) {
            r[i] = ints(a.get(i));
        }
        return r;
    }

    static float[][] floats2(JsonNode a) {
        float[][] r = new float[a.size()][];
        for (int i = 0; i < r.length; i++) {
            r[i] = floats(a.get(i));
        }
        return r;
    }

    /** Prompt ids followed by the generated ids: the whole sequence the reference evaluated. */
    public int[] sequence() {
        int[] s = java.util.Arrays.copyOf(promptIds, promptIds.length + genIds.length);
        System.arraycopy(genIds, 0, s, promptIds.length, genIds.length);
        return s;
    }
}
