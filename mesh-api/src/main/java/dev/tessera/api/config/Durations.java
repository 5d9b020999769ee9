package dev.tessera.api.config;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one duration syntax of every Tessera command line: a whole number followed by {@code ms}, {@code s},
 * {@code m}, {@code h} or {@code d} ({@code 500ms}, {@code 5s}, {@code 10m}, {@code 24h}, {@code 2d}), or
 * ISO-8601 ({@code PT24H}).
 */
public final class Durations {

    private static final Pattern SIMPLE = Pattern.compile("(\\d{1,12})(ms|s|m|h|d)");

    private Durations() {}

    /**
     * Parses {@code text}; a bad value fails naming {@code what} (the flag) and the expected syntax.
     *
     * @throws IllegalArgumentException on anything else, or on a negative duration
     */
    public static Duration parse(String what, String text) {
        String t = text == null ? "" : text.trim();
        Matcher m = SIMPLE.matcher(t);
        Duration d;
        if (m.matches()) {
            long n = Long.parseLong(m.group(1));
            d = switch (m.group(2)) {
                case "ms" -> Duration.ofMillis(n);
                case "s" -> Duration.ofSeconds(n);
                case "m" -> Duration.ofMinutes(n);
                case "h" -> Duration.ofHours(n);
                default -> Duration.ofDays(n);
            };
        } else {
            try {
                d = Duration.parse(t);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(what + ": '" + text
                        + "' (expected: a number followed by ms, s, m, h or d, e.g. 30s, or ISO-8601 like PT24H)");
            }
        }
        if (d.isNegative()) {
            throw new IllegalArgumentException(what + ": '" + text + "' (expected: a duration of zero or more)");
        }
        return d;
    }

    /** Like {@link #parse} but zero is refused too. */
    public static Duration parsePositive(String what, String text) {
        Duration d = parse(what, text);
        if (d.isZero()) {
            throw new IllegalArgumentException(what + ": '" + text + "' (expected: a positive duration)");
        }
        return d;
    }

    /** {@code 1500ms} → {@code 1500ms}, {@code PT5S} → {@code 5s}: the shortest way this syntax writes it. */
    public static String format(Duration d) {
        long ms = d.toMillis();
        if (ms % 1000 != 0) {
            return ms + "ms";
        }
        long s = ms / 1000;
        if (s == 0 || s % 60 != 0) {
            return s + "s";
        }
        long m = s / 60;
        if (m % 60 != 0) {
            return m + "m";
        }
        long h = m / 60;
        return h % 24 != 0 ? h + "h" : h / 24 + "d";
    }
}
