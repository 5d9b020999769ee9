package dev.tessera.logging;

import java.util.List;
import org.slf4j.event.KeyValuePair;

/**
 * One event, with its message already formatted, as the formatters see it.
 *
 * @param epochMillis wall-clock time of the call
 * @param level       the event's level (never {@link LogLevel#OFF})
 * @param logger      the logger's name (ztunnel's {@code scope})
 * @param thread      the calling thread's name
 * @param message     the message with its {@code {}} arguments substituted
 * @param keyValues   SLF4J 2 key-value pairs ({@code log.atInfo().addKeyValue(...)}), in call order
 * @param error       the attached exception, or null
 */
public record LogEvent(long epochMillis, LogLevel level, String logger, String thread, String message,
        List<KeyValuePair> keyValues, Throwable error) {

    public LogEvent {
        keyValues = keyValues == null ? List.of() : keyValues;
        message = message == null ? "" : message;
    }
}
