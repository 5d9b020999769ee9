package dev.tessera.agent.connection;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.connection.ConnectionContext.Direction;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.slf4j.helpers.MarkerIgnoringBase;

class AccessLogRateLimitTest {

    /** A logger that records INFO lines. */
    @SuppressWarnings("serial")
    static class Lines extends MarkerIgnoringBase {
        final List<String> lines = new ArrayList<>();
        public boolean isTraceEnabled() { return false; }
        public void trace(String m) {}
        public void trace(String f, Object a) {}
        public void trace(String f, Object a, Object b) {}
        public void trace(String f, Object... a) {}
        public void trace(String m, Throwable t) {}
        public boolean isDebugEnabled() { return false; }
        public void debug(String m) {}
        public void debug(String f, Object a) {}
        public void debug(String f, Object a, Object b) {}
        public void debug(String f, Object... a) {}
        public void debug(String m, Throwable t) {}
        public boolean isInfoEnabled() { return true; }
        public void info(String m) { lines.add(m); }
        public void info(String f, Object a) {}
        public void info(String f, Object a, Object b) {}
        public void info(String f, Object... a) {}
        public void info(String m, Throwable t) {}
        public boolean isWarnEnabled() { return false; }
        public void warn(String m) {}
        public void warn(String f, Object a) {}
        public void warn(String f, Object... a) {}
        public void warn(String f, Object a, Object b) {}
        public void warn(String m, Throwable t) {}
        public boolean isErrorEnabled() { return false; }
        public void error(String m) {}
        public void error(String f, Object a) {}
        public void error(String f, Object a, Object b) {}
        public void error(String f, Object... a) {}
        public void error(String m, Throwable t) {}
    }

    private static final ConnectionContext CTX =
            ConnectionContext.accepted(Direction.OUTBOUND, new InetSocketAddress("198.18.1.2", 40000));
    private static final ConnectionStats STATS = new ConnectionStats(1, 2, Duration.ofMillis(3), CloseReason.OK);

    @Test
    void aFloodIsCutToTheBucketAndDroppedLinesAreCountedAndAnnounced() {
        var clock = new AtomicLong();
        var out = new Lines();
        var log = new JsonAccessLog(out, new TokenBucket(10, 5, clock::get));
        for (int i = 0; i < 1000; i++) {
            log.closed(CTX, STATS);
        }
        assertThat(out.lines).hasSize(5);
        assertThat(log.dropped()).isEqualTo(995);

        clock.addAndGet(Duration.ofMillis(100).toNanos()); // one token at 10/s
        log.closed(CTX, STATS);
        log.closed(CTX, STATS);
        assertThat(out.lines).hasSize(6);
        assertThat(out.lines.get(5)).endsWith(",\"dropped_before\":995}");
        assertThat(log.dropped()).isEqualTo(996);

        clock.addAndGet(Duration.ofSeconds(60).toNanos()); // refills to the burst, not beyond
        for (int i = 0; i < 100; i++) {
            log.closed(CTX, STATS);
        }
        assertThat(out.lines).hasSize(11);
    }
}
