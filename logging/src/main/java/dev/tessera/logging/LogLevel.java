package dev.tessera.logging;

import java.util.Locale;

/** A logger's threshold: events below it are dropped before any formatting. {@link #OFF} drops everything. */
public enum LogLevel {
    TRACE, DEBUG, INFO, WARN, ERROR, OFF;

    /** The level as flags, the admin API and the JSON {@code level} field spell it. */
    public String lowerCase() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Parses a level name, case-insensitively.
     *
     * @throws IllegalArgumentException naming the value and the expected ones
     */
    public static LogLevel parse(String value) {
        if (value != null) {
            for (LogLevel l : values()) {
                if (l.name().equalsIgnoreCase(value.trim())) {
                    return l;
                }
            }
        }
        throw new IllegalArgumentException("level: '" + value + "' (expected: trace, debug, info, warn, error or off)");
    }
}
