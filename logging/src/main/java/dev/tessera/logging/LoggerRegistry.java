package dev.tessera.logging;

import java.io.OutputStream;
import java.time.ZoneId;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.slf4j.ILoggerFactory;
import org.slf4j.Logger;

/**
 * The loggers of one output: creates them, holds the {@link LevelSpec} and {@link LogFormat} they follow, and
 * re-applies a changed spec to every existing logger (each keeps its threshold in a volatile field, so a
 * disabled level costs one read and one compare on the calling thread).
 */
public final class LoggerRegistry implements ILoggerFactory {

    private final ConcurrentMap<String, TesseraLogger> loggers = new ConcurrentHashMap<>();
    private final LineWriter writer;
    private final ZoneId zone;
    private volatile LevelSpec spec;
    private volatile LogFormat format;

    /**
     * A registry writing to {@code out} through a queue of {@code capacity} lines.
     *
     * @param zone time zone of the text format's timestamps (JSON is always UTC)
     */
    public LoggerRegistry(OutputStream out, int capacity, LevelSpec spec, LogFormat format, ZoneId zone) {
        this.spec = java.util.Objects.requireNonNull(spec, "spec");
        this.format = java.util.Objects.requireNonNull(format, "format");
        this.zone = java.util.Objects.requireNonNull(zone, "zone");
        this.writer = new LineWriter(out, capacity, this::droppedNotice);
    }

    @Override
    public Logger getLogger(String name) {
        return loggers.computeIfAbsent(name, n -> new TesseraLogger(n, this, spec.levelOf(n)));
    }

    /** Replaces the level spec and the format; every logger follows at once. */
    public synchronized void configure(LevelSpec spec, LogFormat format) {
        this.format = java.util.Objects.requireNonNull(format, "format");
        apply(java.util.Objects.requireNonNull(spec, "spec"));
    }

    /**
     * Sets {@code level} on the logger {@code prefix} and those below it ({@code prefix.*}); the empty prefix
     * means every logger. Loggers created later inherit it. Returns how many existing loggers it covers.
     */
    public synchronized int setLevel(String prefix, LogLevel level) {
        apply(spec.with(prefix, level));
        String p = prefix == null ? "" : prefix.trim();
        return (int) loggers.keySet().stream()
                .filter(n -> p.isEmpty() || n.equals(p) || n.startsWith(p + ".")).count();
    }

    private void apply(LevelSpec next) {
        this.spec = next;
        for (TesseraLogger l : loggers.values()) {
            l.threshold(next.levelOf(l.getName()));
        }
    }

    /** Every logger created so far with its level. */
    public Map<String, String> levels() {
        var out = new TreeMap<String, String>();
        loggers.forEach((n, l) -> out.put(n, l.threshold().lowerCase()));
        return out;
    }

    /** The spec in force. */
    public LevelSpec spec() {
        return spec;
    }

    /** The format in force. */
    public LogFormat format() {
        return format;
    }

    /** Lines lost because the output was slower than the logging. */
    public long dropped() {
        return writer.dropped();
    }

    /** Writes every queued line now (tests; the shutdown hook does it at exit). */
    public void flush() {
        writer.flush();
    }

    void write(LogEvent e) {
        writer.offer(LineFormat.format(format, e, zone));
    }

    private String droppedNotice(long lost) {
        return LineFormat.format(format, new LogEvent(System.currentTimeMillis(), LogLevel.WARN, "tessera.logging",
                Thread.currentThread().getName(), lost + " log lines dropped: the output is slower than the logging",
                null, null), zone);
    }
}
