package dev.tessera.images.harness;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalDouble;

/**
 * The samples of a Prometheus text exposition ({@code /metrics} of the agent on 15020 and the controller on
 * 15014), keyed by series exactly as exposed: {@code name} or {@code name{label="value",...}}.
 */
public final class PromText {

    private final Map<String, Double> samples;

    private PromText(Map<String, Double> samples) {
        this.samples = samples;
    }

    /** Parses an exposition; comment lines are skipped, a sample line without a number fails naming it. */
    public static PromText parse(String body) {
        var out = new LinkedHashMap<String, Double>();
        for (String raw : body.split("\n")) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            // Label values may contain spaces; the value is the first token after the closing brace (or name).
            int end = line.startsWith("{") ? -1 : line.lastIndexOf('}');
            int split = line.indexOf(' ', end < 0 ? 0 : end);
            if (split < 0) {
                throw new IllegalArgumentException("metrics line: '" + line + "' (expected: series value)");
            }
            String value = line.substring(split + 1).strip().split("\\s+")[0];
            try {
                out.put(line.substring(0, split), Double.parseDouble(value));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("metrics line: '" + line + "' (expected: a number after the series)", e);
            }
        }
        return new PromText(out);
    }

    /** The value of {@code series}, if exposed. */
    public OptionalDouble get(String series) {
        Double v = samples.get(series);
        return v == null ? OptionalDouble.empty() : OptionalDouble.of(v);
    }

    /** The value of {@code series}, or 0 when it is not exposed (a counter nobody incremented yet). */
    public double valueOr0(String series) {
        return samples.getOrDefault(series, 0.0);
    }

    /** Every sample. */
    public Map<String, Double> samples() {
        return Map.copyOf(samples);
    }

    @Override
    public String toString() {
        return samples.toString();
    }
}
