package dev.tessera.cli.observe;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses the Prometheus text exposition format (what the agents serve on {@code :15020/metrics}) into
 * samples. Comments and blank lines are skipped; label values may contain escaped quotes, backslashes and
 * newlines.
 */
public final class PromText {

    private PromText() {}

    /** One sample: metric name (with its {@code _total} suffix), labels and value. */
    public record Sample(String name, Map<String, String> labels, double value) {
        /** The label's value, or {@code ""}. */
        public String label(String key) {
            return labels.getOrDefault(key, "");
        }
    }

    /** Every sample in {@code text}. */
    public static List<Sample> parse(String text) {
        List<Sample> out = new ArrayList<>();
        int lineNo = 0;
        for (String line : text.split("\n")) {
            lineNo++;
            line = line.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            try {
                out.add(parseLine(line));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("metrics line " + lineNo + ": '" + line + "' (expected: "
                        + "name{label=\"value\",...} number): " + e.getMessage(), e);
            }
        }
        return out;
    }

    private static Sample parseLine(String line) {
        int brace = line.indexOf('{');
        int space = line.indexOf(' ');
        Map<String, String> labels = new LinkedHashMap<>();
        String name;
        String rest;
        if (brace >= 0 && (space < 0 || brace < space)) {
            name = line.substring(0, brace);
            int i = brace + 1;
            while (line.charAt(i) != '}') {
                int eq = line.indexOf('=', i);
                String key = line.substring(i, eq).strip();
                if (line.charAt(eq + 1) != '"') {
                    throw new IllegalArgumentException("label " + key + " value is not quoted");
                }
                var v = new StringBuilder();
                int j = eq + 2;
                for (; line.charAt(j) != '"'; j++) {
                    char c = line.charAt(j);
                    if (c == '\\') {
                        char n = line.charAt(++j);
                        v.append(n == 'n' ? '\n' : n);
                    } else {
                        v.append(c);
                    }
                }
                labels.put(key, v.toString());
                i = j + 1;
                if (line.charAt(i) == ',') {
                    i++;
                }
            }
            rest = line.substring(i + 1).strip();
        } else {
            name = line.substring(0, space);
            rest = line.substring(space + 1).strip();
        }
        String value = rest.split("\\s+")[0];
        return new Sample(name, Map.copyOf(labels), parseValue(value));
    }

    private static double parseValue(String v) {
        return switch (v) {
            case "+Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            case "NaN" -> Double.NaN;
            default -> Double.parseDouble(v);
        };
    }

    /** Sum of the samples named {@code name} whose labels include all of {@code match}. */
    public static double sum(List<Sample> samples, String name, Map<String, String> match) {
        double s = 0;
        for (Sample x : samples) {
            if (x.name().equals(name) && x.labels().entrySet().containsAll(match.entrySet())) {
                s += x.value();
            }
        }
        return s;
    }
}
