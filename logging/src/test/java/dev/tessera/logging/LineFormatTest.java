package dev.tessera.logging;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.event.KeyValuePair;

class LineFormatTest {

    private static final long T = 1_796_574_166_123L; // 2026-12-06T16:22:46.123Z

    private static LogEvent event(String message, Throwable error, KeyValuePair... kvs) {
        return new LogEvent(T, LogLevel.WARN, "dev.tessera.agent.X", "main", message, List.of(kvs), error);
    }

    @Test
    void textKeepsSlf4jSimplesLayout() {
        assertThat(LineFormat.text(event("hello 1", null), ZoneOffset.UTC))
                .isEqualTo("2026-12-06T16:22:46.123+0000 [main] WARN dev.tessera.agent.X - hello 1\n");
    }

    @Test
    void textAppendsKeyValuesAndTheStackTraceOnFollowingLines() {
        String line = LineFormat.text(event("m", new IllegalStateException("boom"), new KeyValuePair("a", 1)),
                ZoneOffset.UTC);
        assertThat(line).startsWith("2026-12-06T16:22:46.123+0000 [main] WARN dev.tessera.agent.X - m a=1\n"
                + "java.lang.IllegalStateException: boom\n\tat ");
    }

    @Test
    void jsonHasZtunnelsKeysFirstAndUtcMillis() {
        assertThat(LineFormat.json(event("hello", null)))
                .isEqualTo("{\"level\":\"warn\",\"time\":\"2026-12-06T16:22:46.123Z\",\"scope\":\"dev.tessera.agent.X\","
                        + "\"message\":\"hello\",\"thread\":\"main\"}\n");
    }

    @Test
    void jsonEscapesQuotesBackslashesLineBreaksAndControlCharacters() {
        String line = LineFormat.json(event("say \"hi\"\\ \n next\r\t\u0000\u001f\u007f \u2028 é ✓", null));
        assertThat(line).contains("\"message\":\"say \\\"hi\\\"\\\\ \\n next\\r\\t\\u0000\\u001f\\u007f \\u2028 é ✓\"");
        assertThat(line.indexOf('\n')).isEqualTo(line.length() - 1); // one line
    }

    @Test
    void jsonEscapesLoneSurrogatesButKeepsPairs() {
        assertThat(LineFormat.json(event("a\ud800b \ud83d\ude00 \udc00", null)))
                .contains("\"message\":\"a\\ud800b \ud83d\ude00 \\udc00\"");
    }

    @Test
    void jsonWritesKeyValuesAtTopLevelWithTypes() {
        String line = LineFormat.json(event("connection complete", null, new KeyValuePair("src.addr", "198.18.1.2:80"),
                new KeyValuePair("bytes_sent", 42L), new KeyValuePair("dst.identity", null),
                new KeyValuePair("ok", true), new KeyValuePair("weird\"key", "v\n")));
        assertThat(line).contains(",\"src.addr\":\"198.18.1.2:80\",\"bytes_sent\":42,\"dst.identity\":null,"
                + "\"ok\":true,\"weird\\\"key\":\"v\\n\",\"thread\":\"main\"}");
    }

    @Test
    void jsonPutsTheExceptionAndItsStackTraceIntoError() {
        var e = new RuntimeException("bad \"thing\"", new java.io.IOException("cause"));
        String line = LineFormat.json(event("failed", e));
        assertThat(line).contains("\"error\":\"java.lang.RuntimeException: bad \\\"thing\\\"\\n\\tat ")
                .contains("Caused by: java.io.IOException: cause").endsWith("\"}\n");
        assertThat(line.indexOf('\n')).isEqualTo(line.length() - 1);
    }
}
