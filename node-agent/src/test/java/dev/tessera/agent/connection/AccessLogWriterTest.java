package dev.tessera.agent.connection;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.agent.connection.ConnectionContext.Direction;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

class AccessLogWriterTest {

    /** Records lines from any thread. */
    @SuppressWarnings("serial")
    private static final class SyncLines extends AccessLogRateLimitTest.Lines {
        final List<String> seen = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void info(String m) {
            seen.add(m);
        }
    }

    private static ConnectionContext ctx(int port) {
        return ConnectionContext.accepted(Direction.OUTBOUND, new InetSocketAddress("198.18.1.2", port));
    }

    private static final ConnectionStats STATS = new ConnectionStats(1, 2, Duration.ofMillis(3), CloseReason.OK);

    @Test
    void queuedLinesAreWrittenInOrderByThePollingThread() {
        var out = new SyncLines();
        var log = new JsonAccessLog(out);
        var writer = new AccessLogWriter(1024);
        for (int i = 0; i < 600; i++) { // more than one batch
            assertThat(writer.offer(log, ctx(10_000 + i), STATS, 0)).isTrue();
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> out.seen.size() == 600);
        for (int i = 0; i < 600; i++) {
            assertThat(out.seen.get(i)).contains("\"src_addr\":\"198.18.1.2:" + (10_000 + i) + "\"");
        }
    }

    @Test
    void anIdleWriterParksUntilTheNextLineAndWritesIt() {
        var out = new SyncLines();
        var log = new JsonAccessLog(out);
        var writer = new AccessLogWriter(1024);
        for (int round = 0; round < 3; round++) {
            writer.offer(log, ctx(40_000 + round), STATS, 0);
            int written = round + 1;
            await().atMost(Duration.ofSeconds(5)).until(() -> out.seen.size() == written);
            // after a window without lines it parks with no timeout: an idle agent's writer does not wake
            await().atMost(Duration.ofSeconds(5)).until(writer::idle);
        }
        assertThat(out.seen.get(2)).contains("198.18.1.2:40002");
    }

    @Test
    void flushWritesWhatIsQueuedOnTheCallersThreadBeforeItReturns() {
        var out = new SyncLines();
        var log = new JsonAccessLog(out);
        var writer = new AccessLogWriter(1024);
        for (int i = 0; i < 300; i++) {
            writer.offer(log, ctx(20_000 + i), STATS, 0);
        }
        writer.flush();
        assertThat(out.seen).hasSize(300);
        assertThat(out.seen.get(299)).contains("198.18.1.2:20299");
    }

    @Test
    void aFullQueueRefusesTheLine() {
        var out = new SyncLines();
        var log = new JsonAccessLog(out);
        var writer = new AccessLogWriter(2);
        // the polling thread may take some at any time; offering many more than fit must be refused at some point
        boolean refused = false;
        for (int i = 0; i < 100_000 && !refused; i++) {
            refused = !writer.offer(log, ctx(30_000 + (i % 1000)), STATS, 0);
        }
        assertThat(refused).isTrue();
    }
}
