package dev.tessera.logging;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.time.ZoneId;
import java.util.Map;

/**
 * The process's logging, as the agent's and controller's {@code --log-level} / {@code --log-format} flags and the
 * agent's admin {@code /logging} endpoint drive it. Every SLF4J logger of the process comes from {@link #registry()}
 * (through {@link TesseraServiceProvider}); lines go to stderr.
 *
 * <p>Before the flags are parsed, the system properties {@code tessera.log.level} (a {@link LevelSpec}) and
 * {@code tessera.log.format} ({@code text|json}) set the start-up configuration; both default to
 * {@link LevelSpec#DEFAULT} and text.
 */
public final class TesseraLogging {

    /** Lines the writer queues before it drops (about 2 MB of typical lines at most). */
    static final int QUEUE_LINES = 8192;

    private static final LoggerRegistry REGISTRY = new LoggerRegistry(new FileOutputStream(FileDescriptor.err),
            QUEUE_LINES, startSpec(), startFormat(), ZoneId.systemDefault());

    private TesseraLogging() {}

    /** The process's loggers. */
    public static LoggerRegistry registry() {
        return REGISTRY;
    }

    /**
     * Applies the flags' values.
     *
     * @throws IllegalArgumentException naming the flag and the expected values when either is malformed
     */
    public static void configure(String levelSpec, String format) {
        REGISTRY.configure(LevelSpec.parse(levelSpec), LogFormat.parse(format));
    }

    /** See {@link LoggerRegistry#setLevel}. */
    public static int setLevel(String prefix, String level) {
        return REGISTRY.setLevel(prefix, LogLevel.parse(level));
    }

    /** Every logger created so far and its level. */
    public static Map<String, String> levels() {
        return REGISTRY.levels();
    }

    /** The format in force. */
    public static LogFormat format() {
        return REGISTRY.format();
    }

    private static LevelSpec startSpec() {
        String s = System.getProperty("tessera.log.level");
        try {
            return s == null ? LevelSpec.DEFAULT : LevelSpec.parse(s);
        } catch (IllegalArgumentException e) {
            System.err.println("tessera-logging: -Dtessera.log.level ignored: " + e.getMessage());
            return LevelSpec.DEFAULT;
        }
    }

    private static LogFormat startFormat() {
        String s = System.getProperty("tessera.log.format");
        try {
            return s == null ? LogFormat.TEXT : LogFormat.parse(s);
        } catch (IllegalArgumentException e) {
            System.err.println("tessera-logging: -Dtessera.log.format ignored: " + e.getMessage());
            return LogFormat.TEXT;
        }
    }
}
