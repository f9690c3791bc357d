package moed.runtime.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Learns a byte-level BPE vocabulary from sample text, the way GPT-2's was made: split the text with the
 * pre-tokenizer, start from the 256 byte characters, and repeatedly merge the most frequent adjacent pair
 * (ties broken by the pair's text, so the result is deterministic). For synthetic models, whose tokenizer must
 * behave like a real one on real text. Plain and quadratic-ish: fine for tens of KB and a few thousand merges.
 */
public final class BpeTrainer {
    /** The learned merges ("left right", first learned first) and the tokens they made, in the same order. */
    public record Result(List<String> merges, List<String> tokens) {
    }

    private BpeTrainer() {
    }

    public static Result train(String text, PreTokenizer pre, int maxMerges) {
        Map<String, Integer> wordCounts = new LinkedHashMap<>();
        for (String w : pre.split(text)) {
            wordCounts.merge(ByteLevel.encode(w.getBytes(StandardCharsets.UTF_8)), 1, Integer::sum);
        }
        List<List<String>> words = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        for (var e : wordCounts.entrySet()) {
            List<String> syms = new ArrayList<>();
            for (int i = 0; i < e.getKey().length(); i++) {
                syms.add(String.valueOf(e.getKey().charAt(i)));
            }
            words.add(syms);
            counts.add(e.getValue());
        }
        List<String> merges = new ArrayList<>();
        List<String> tokens = new ArrayList<>();
        while (merges.size() < maxMerges) {
            Map<String, Integer> pairs = new HashMap<>();
            for (int w = 0; w < words.size(); w++) {
                List<String> s = words.get(w);
                for (int i = 0; i + 1 < s.size(); i++) {
                    pairs.merge(s.get(i) + " " + s.get(i + 1), counts.get(w), Integer::sum);
                }
            }
            String best = null;
            int bestCount = 1;
            for (var e : pairs.entrySet()) {
                if (e.getValue() > bestCount || (e.getValue() == bestCount && best != null && e.getKey().compareTo(best) < 0)) {
                    best = e.getKey();
                    bestCount = e.getValue();
                }
            }
            if (best == null) {
                break;
            }
            int sp = best.indexOf(' ');
            String left = best.substring(0, sp);
            String right = best.substring(sp + 1);
            for (List<String> s : words) {
                for (int i = 0; i + 1 < s.size(); i++) {
                    if (s.get(i).equals(left) && s.get(i + 1).equals(right)) {
                        s.set(i, left + right);
                        s.remove(i + 1);
                    }
                }
            }
            merges.add(best);
            tokens.add(left + right);
        }
        return new Result(merges, tokens);
    }
}
