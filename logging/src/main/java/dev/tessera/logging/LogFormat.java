package dev.tessera.logging;

import java.util.Locale;

/** How each event is written: one line either way. */
public enum LogFormat {
    /**
     * {@code 2026-12-06T16:22:46.123+0000 [thread] INFO logger - message}, then the stack trace: slf4j-simple's
     * layout as the agent configured it, so existing readers of the text logs keep working.
     */
    TEXT,
    /**
     * One JSON object per line, keys as ztunnel writes them ({@code level}, {@code time}, {@code scope},
     * {@code message}) plus {@code thread}, {@code error} (the exception with its stack trace) and the event's
     * key-value pairs at the top level.
     */
    JSON;

    /**
     * Parses {@code text} or {@code json}, case-insensitively.
     *
     * @throws IllegalArgumentException naming {@code --log-format} and the expected values
     */
    public static LogFormat parse(String value) {
        if (value != null) {
            for (LogFormat f : values()) {
                if (f.name().equalsIgnoreCase(value.trim())) {
                    return f;
                }
            }
        }
        throw new IllegalArgumentException("--log-format: '" + value + "' (expected: text or json)");
    }

    /** {@code text} or {@code json}. */
    public String lowerCase() {
        return name().toLowerCase(Locale.ROOT);
    }
}
