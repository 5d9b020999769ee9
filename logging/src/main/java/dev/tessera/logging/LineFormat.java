package dev.tessera.logging;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import org.slf4j.event.KeyValuePair;

/**
 * Turns one {@link LogEvent} into one line (with its trailing newline). Pure functions: the tests pin the exact
 * output.
 *
 * <p>JSON keys, in this order: {@code level} (lower case), {@code time} (RFC 3339, UTC, milliseconds),
 * {@code scope} (the logger name), {@code message}, then the event's key-value pairs, {@code thread}, and
 * {@code error} (the exception's {@code toString()} followed by its stack trace) when there is one. The
 * first four are what ztunnel writes, so a pipeline that parses ztunnel's logs parses these.
 */
public final class LineFormat {

    private static final DateTimeFormatter TEXT_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSZ",
            Locale.ROOT);
    private static final DateTimeFormatter JSON_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
            Locale.ROOT).withZone(ZoneOffset.UTC);

    private LineFormat() {}

    /** The line for {@code e} in {@code format}; text times are in {@code zone}. */
    public static String format(LogFormat format, LogEvent e, ZoneId zone) {
        return format == LogFormat.JSON ? json(e) : text(e, zone);
    }

    /**
     * slf4j-simple's layout as the agent had it: {@code TIME [THREAD] LEVEL LOGGER - MESSAGE}, key-value pairs
     * appended as {@code key=value}, then the stack trace on the following lines.
     */
    public static String text(LogEvent e, ZoneId zone) {
        var b = new StringBuilder(96 + e.message().length());
        b.append(TEXT_TIME.format(Instant.ofEpochMilli(e.epochMillis()).atZone(zone)))
                .append(" [").append(e.thread()).append("] ").append(e.level().name()).append(' ')
                .append(e.logger()).append(" - ").append(e.message());
        for (KeyValuePair kv : e.keyValues()) {
            b.append(' ').append(kv.key).append('=').append(kv.value);
        }
        b.append('\n');
        if (e.error() != null) {
            b.append(stackTrace(e.error()));
        }
        return b.toString();
    }

    /** One JSON object on one line: control characters, quotes and line breaks in any value are escaped. */
    public static String json(LogEvent e) {
        var b = new StringBuilder(128 + e.message().length());
        b.append("{\"level\":\"").append(e.level().lowerCase()).append("\",\"time\":\"")
                .append(JSON_TIME.format(Instant.ofEpochMilli(e.epochMillis()))).append("\",\"scope\":");
        quote(b, e.logger());
        b.append(",\"message\":");
        quote(b, e.message());
        for (KeyValuePair kv : e.keyValues()) {
            b.append(',');
            quote(b, kv.key);
            b.append(':');
            value(b, kv.value);
        }
        b.append(",\"thread\":");
        quote(b, e.thread());
        if (e.error() != null) {
            b.append(",\"error\":");
            quote(b, stackTrace(e.error()).stripTrailing());
        }
        return b.append("}\n").toString();
    }

    private static void value(StringBuilder b, Object v) {
        if (v == null) {
            b.append("null");
        } else if (v instanceof Boolean
                || (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte)) {
            b.append(v);
        } else if (v instanceof Double d && Double.isFinite(d) || v instanceof Float f && Float.isFinite(f)) {
            b.append(v);
        } else {
            quote(b, String.valueOf(v));
        }
    }

    /** Appends {@code s} as a JSON string (RFC 8259), escaping what a line-oriented reader could trip on. */
    public static void quote(StringBuilder b, String s) {
        if (s == null) {
            b.append("null");
            return;
        }
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    boolean loneSurrogate = Character.isHighSurrogate(c)
                            ? i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))
                            : Character.isLowSurrogate(c) && (i == 0 || !Character.isHighSurrogate(s.charAt(i - 1)));
                    if (c < 0x20 || c == 0x7f || c == '\u2028' || c == '\u2029' || loneSurrogate) {
                        b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }

    private static String stackTrace(Throwable t) {
        var w = new StringWriter(512);
        try (var p = new PrintWriter(w)) {
            t.printStackTrace(p);
        }
        return w.toString();
    }
}
