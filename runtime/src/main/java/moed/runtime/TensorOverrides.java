package moed.runtime;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import moed.runtime.config.Setting;
import moed.runtime.config.SettingException;
import moed.runtime.gguf.GgufFile;
import moed.runtime.model.Model;

/**
 * llama.cpp-style tensor overrides {@code REGEX=resident|backing}: expert tensors matched by a {@code resident} rule
 * stay pinned (read in place, never through the cache); everything else keeps the default (experts through the
 * cache when there is one, all other tensors resident). Rules moed cannot honour are refused when parsed or applied.
 */
public record TensorOverrides(List<Rule> rules) {
    public static final TensorOverrides NONE = new TensorOverrides(List.of());

    /** One rule: tensors whose name {@code pattern} finds go where {@code resident} says. */
    public record Rule(String text, Pattern pattern, boolean resident) {
    }

    public TensorOverrides {
        rules = List.copyOf(rules);
    }

    /** Parses rules written {@code REGEX=resident|backing}. */
    public static TensorOverrides parse(List<String> specs) {
        List<Rule> rules = new ArrayList<>();
        for (String o : specs) {
            int eq = o.lastIndexOf('=');
            if (eq <= 0) {
                throw new SettingException(Setting.TENSOR_OVERRIDE, "a tensor override is REGEX=resident|backing, got '" + o + "'");
            }
            String where = o.substring(eq + 1);
            Pattern p;
            try {
                p = Pattern.compile(o.substring(0, eq));
            } catch (PatternSyntaxException ex) {
                throw new SettingException(Setting.TENSOR_OVERRIDE, "tensor override '" + o.substring(0, eq)
                        + "' is not a regular expression: " + ex.getDescription());
            }
            if (!where.equals("resident") && !where.equals("backing")) {
                throw new SettingException(Setting.TENSOR_OVERRIDE, "tensor override '" + o + "': '" + where
                        + "' must be resident or backing");
            }
            rules.add(new Rule(o, p, where.equals("resident")));
        }
        return new TensorOverrides(rules);
    }

    /** Layers whose expert tensors a {@code resident} rule names; refuses a {@code backing} rule on a non-expert tensor. */
    boolean[] pinnedExpertLayers(GgufFile f, int layers) {
        boolean[] pinned = new boolean[layers];
        for (Rule r : rules) {
            for (var t : f.tensors().values()) {
                if (!r.pattern().matcher(t.name()).find()) {
                    continue;
                }
                boolean expert = t.name().contains("_exps.");
                if (!expert && !r.resident()) {
                    throw new SettingException(Setting.TENSOR_OVERRIDE, "tensor override " + r.text() + ": " + t.name()
                            + " is not an expert tensor; only expert tensors (ffn_*_exps) can go through the expert cache");
                }
                if (expert && r.resident()) {
                    int layer = Model.layerOf(t.name());
                    if (layer >= 0 && layer < layers) {
                        pinned[layer] = true;
                    }
                }
            }
        }
        return pinned;
    }

    /** One start-up line per rule: how many tensors it matches. */
    List<String> describe(GgufFile f) {
        List<String> lines = new ArrayList<>();
        for (Rule r : rules) {
            long n = f.tensors().values().stream().filter(t -> r.pattern().matcher(t.name()).find()).count();
            lines.add("override " + r.text() + ": "
                    + (n == 0 ? "matches no tensor (check the names with 'moed model info --tensors')" : "matches " + n + " tensors"));
        }
        return lines;
    }
}
