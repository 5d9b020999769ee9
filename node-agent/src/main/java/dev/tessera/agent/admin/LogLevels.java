package dev.tessera.agent.admin;

import java.lang.reflect.Field;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads and changes log levels at run time for the agent's SLF4J binding (slf4j-simple, which has no API
 * for it: its per-logger level field is set reflectively, and the matching
 * {@code org.slf4j.simpleLogger.log.NAME} property makes loggers created later inherit the level).
 * Setting a level on {@code NAME} applies to {@code NAME} and every logger below it ({@code NAME.*});
 * the empty name means every logger.
 */
public final class LogLevels {

    private static final String PROPERTY_PREFIX = "org.slf4j.simpleLogger.log.";
    private static final Map<String, Integer> LEVELS = Map.of(
            "trace", 0, "debug", 10, "info", 20, "warn", 30, "error", 40, "off", 50);

    private LogLevels() {}

    /** Every logger created so far and its level ({@code trace|debug|info|warn|error|off}). */
    public static Map<String, String> all() {
        var out = new TreeMap<String, String>();
        for (var e : loggers().entrySet()) {
            out.put(e.getKey(), name(level(e.getValue())));
        }
        return out;
    }

    /**
     * Sets {@code level} for {@code logger} and the loggers below it; returns how many existing loggers
     * changed.
     *
     * @throws IllegalArgumentException for an unknown level name
     */
    public static int set(String logger, String level) {
        String prefix = logger == null ? "" : logger.trim();
        Integer value = LEVELS.get(level == null ? "" : level.toLowerCase(Locale.ROOT));
        if (value == null) {
            throw new IllegalArgumentException("level: '" + level + "' (expected: trace, debug, info, warn, error or off)");
        }
        if (prefix.isEmpty()) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level.toLowerCase(Locale.ROOT));
        } else {
            System.setProperty(PROPERTY_PREFIX + prefix, level.toLowerCase(Locale.ROOT));
        }
        int changed = 0;
        for (var e : loggers().entrySet()) {
            String n = e.getKey();
            if (prefix.isEmpty() || n.equals(prefix) || n.startsWith(prefix + ".")) {
                setLevel(e.getValue(), value);
                changed++;
            }
        }
        return changed;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Logger> loggers() {
        LoggerFactory.getLogger(LogLevels.class); // the factory exists once a logger was asked for
        Object factory = LoggerFactory.getILoggerFactory();
        try {
            Field f = factory.getClass().getDeclaredField("loggerMap");
            f.setAccessible(true);
            return (ConcurrentMap<String, Logger>) f.get(factory);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new UnsupportedOperationException("log levels: the SLF4J binding " + factory.getClass().getName()
                    + " is not slf4j-simple (expected: org.slf4j.simple.SimpleLoggerFactory)", e);
        }
    }

    private static Field levelField(Logger logger) throws NoSuchFieldException {
        Field f = logger.getClass().getDeclaredField("currentLogLevel");
        f.setAccessible(true);
        return f;
    }

    private static int level(Logger logger) {
        try {
            return levelField(logger).getInt(logger);
        } catch (ReflectiveOperationException e) {
            throw new UnsupportedOperationException("log levels: cannot read " + logger.getClass().getName(), e);
        }
    }

    private static void setLevel(Logger logger, int value) {
        try {
            levelField(logger).setInt(logger, value);
        } catch (ReflectiveOperationException e) {
            throw new UnsupportedOperationException("log levels: cannot change " + logger.getClass().getName(), e);
        }
    }

    private static String name(int level) {
        return LEVELS.entrySet().stream().filter(e -> e.getValue() == level).map(Map.Entry::getKey).findFirst()
                .orElse(String.valueOf(level));
    }
}
