package dev.tessera.agent.admin;

import dev.tessera.logging.TesseraLogging;
import java.util.Map;

/**
 * Reads and changes log levels at run time through the logging backend's API ({@link TesseraLogging}; no
 * reflection). Setting a level on {@code NAME} applies to {@code NAME} and every logger below it
 * ({@code NAME.*}), including loggers created later; the empty name means every logger.
 */
public final class LogLevels {

    private LogLevels() {}

    /** Every logger created so far and its level ({@code trace|debug|info|warn|error|off}). */
    public static Map<String, String> all() {
        return TesseraLogging.levels();
    }

    /**
     * Sets {@code level} for {@code logger} and the loggers below it; returns how many existing loggers
     * changed.
     *
     * @throws IllegalArgumentException for an unknown level name
     */
    public static int set(String logger, String level) {
        return TesseraLogging.setLevel(logger == null ? "" : logger.trim(), level);
    }
}
