package moed.tools.http;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A strict reader of Prometheus's text exposition format (version 0.0.4), for the tests: every line must be a
 * comment, a HELP/TYPE line naming a metric family once, or a sample {@code name{label="value",...} number}
 * whose family was typed before it; anything else fails. Samples are keyed as written: {@code name{labels}}.
 */
final class PrometheusText {
    private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)})? (\\S+)( -?\\d+)?");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\\\n]|\\\\[\\\\\"n])*)\"(,|$)");

    final Map<String, String> types = new HashMap<>();
    final Map<String, Double> samples = new LinkedHashMap<>();

    static PrometheusText parse(String text) {
        PrometheusText p = new PrometheusText();
        int n = 0;
        for (String line : text.split("\n", -1)) {
            n++;
            if (line.isEmpty()) {
                continue;
            }
            if (line.startsWith("# TYPE ")) {
                String[] f = line.substring(7).split(" ");
                check(f.length == 2 && NAME.matcher(f[0]).matches(), n, line);
                check(f[1].matches("counter|gauge|histogram|summary|untyped|info|stateset|gaugehistogram|unknown"), n, line);
                check(p.types.put(f[0], f[1]) == null, n, "family typed twice: " + line);
            } else if (line.startsWith("#")) {
                continue; // HELP and comments
            } else {
                Matcher m = SAMPLE.matcher(line);
                check(m.matches(), n, line);
                String name = m.group(1);
                String family = p.types.containsKey(name) ? name : name.replaceAll("_(total|created|sum|count|bucket)$", "");
                check(p.types.containsKey(family), n, "sample before its TYPE: " + line);
                if (m.group(3) != null && !m.group(3).isEmpty()) {
                    Matcher l = LABEL.matcher(m.group(3));
                    int at = 0;
                    while (at < m.group(3).length()) {
                        check(l.find(at) && l.start() == at, n, "bad labels: " + line);
                        at = l.end();
                    }
                }
                double v = switch (m.group(4)) {
                    case "+Inf" -> Double.POSITIVE_INFINITY;
                    case "-Inf" -> Double.NEGATIVE_INFINITY;
                    case "NaN" -> Double.NaN;
                    default -> Double.parseDouble(m.group(4));
                };
                check(p.samples.put(name + (m.group(2) != null ? m.group(2) : ""), v) == null, n, "sample twice: " + line);
            }
        }
        return p;
    }

    double value(String key) {
        Double v = samples.get(key);
        if (v == null) {
            throw new AssertionError("no sample " + key + " among " + samples.keySet());
        }
        return v;
    }

    private static void check(boolean ok, int line, String what) {
        if (!ok) {
            throw new AssertionError("not Prometheus text format at line " + line + ": " + what);
        }
    }
}
