package dev.tessera.logging;

import java.util.List;
import org.slf4j.Marker;
import org.slf4j.event.KeyValuePair;
import org.slf4j.event.Level;
import org.slf4j.event.LoggingEvent;
import org.slf4j.helpers.LegacyAbstractLogger;
import org.slf4j.helpers.MessageFormatter;
import org.slf4j.helpers.NormalizedParameters;
import org.slf4j.spi.LoggingEventAware;

/**
 * One named logger. The level check reads one volatile field; formatting and the line's text happen on the
 * calling thread only for enabled events, the write on {@link LineWriter}'s thread. Implements
 * {@link LoggingEventAware} so the fluent API's key-value pairs reach the formatter as fields (top-level keys in
 * JSON) instead of being folded into the message.
 */
final class TesseraLogger extends LegacyAbstractLogger implements LoggingEventAware {

    private static final long serialVersionUID = 1L;

    private final transient LoggerRegistry registry;
    private volatile LogLevel threshold;

    TesseraLogger(String name, LoggerRegistry registry, LogLevel threshold) {
        this.name = name;
        this.registry = registry;
        this.threshold = threshold;
    }

    LogLevel threshold() {
        return threshold;
    }

    void threshold(LogLevel level) {
        this.threshold = level;
    }

    private boolean enabled(LogLevel level) {
        return level.ordinal() >= threshold.ordinal();
    }

    @Override
    public boolean isTraceEnabled() {
        return enabled(LogLevel.TRACE);
    }

    @Override
    public boolean isDebugEnabled() {
        return enabled(LogLevel.DEBUG);
    }

    @Override
    public boolean isInfoEnabled() {
        return enabled(LogLevel.INFO);
    }

    @Override
    public boolean isWarnEnabled() {
        return enabled(LogLevel.WARN);
    }

    @Override
    public boolean isErrorEnabled() {
        return enabled(LogLevel.ERROR);
    }

    @Override
    protected String getFullyQualifiedCallerName() {
        return null;
    }

    @Override
    protected void handleNormalizedLoggingCall(Level level, Marker marker, String pattern, Object[] args,
            Throwable error) {
        emit(level, pattern, args, error, List.of(), System.currentTimeMillis());
    }

    @Override
    public void log(LoggingEvent event) {
        LogLevel l = of(event.getLevel());
        if (!enabled(l)) {
            return;
        }
        NormalizedParameters p = NormalizedParameters.normalize(event);
        emit(event.getLevel(), p.getMessage(), p.getArguments(), p.getThrowable(), event.getKeyValuePairs(),
                event.getTimeStamp() > 0 ? event.getTimeStamp() : System.currentTimeMillis());
    }

    private void emit(Level level, String pattern, Object[] args, Throwable error, List<KeyValuePair> kvs,
            long millis) {
        String message = args == null || args.length == 0 ? pattern
                : MessageFormatter.basicArrayFormat(pattern, args);
        registry.write(new LogEvent(millis, of(level), name, Thread.currentThread().getName(), message, kvs,
                error));
    }

    private static LogLevel of(Level level) {
        return switch (level) {
            case TRACE -> LogLevel.TRACE;
            case DEBUG -> LogLevel.DEBUG;
            case INFO -> LogLevel.INFO;
            case WARN -> LogLevel.WARN;
            case ERROR -> LogLevel.ERROR;
        };
    }
}
