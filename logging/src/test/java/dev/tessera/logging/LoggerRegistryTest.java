package dev.tessera.logging;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.ZoneOffset;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;

class LoggerRegistryTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    private LoggerRegistry registry(String spec, LogFormat format) {
        return new LoggerRegistry(out, 1024, LevelSpec.parse(spec), format, ZoneOffset.UTC);
    }

    private String written(LoggerRegistry r) {
        r.flush();
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void eventsBelowTheLevelAreDroppedPerPrefix() {
        LoggerRegistry r = registry("warn,dev.tessera=debug", LogFormat.TEXT);
        Logger netty = r.getLogger("io.netty.X");
        Logger ours = r.getLogger("dev.tessera.agent.Y");
        netty.info("netty info");
        netty.warn("netty warn");
        ours.trace("ours trace");
        ours.debug("ours debug {}", 7);
        assertThat(netty.isInfoEnabled()).isFalse();
        assertThat(written(r)).doesNotContain("netty info", "ours trace").contains("netty warn", "ours debug 7");
    }

    @Test
    void levelChangesReachExistingAndLaterLoggers() {
        LoggerRegistry r = registry("info", LogFormat.TEXT);
        Logger a = r.getLogger("tessera.setup");
        assertThat(a.isDebugEnabled()).isFalse();
        assertThat(r.setLevel("tessera", LogLevel.DEBUG)).isEqualTo(1);
        assertThat(a.isDebugEnabled()).isTrue();
        assertThat(r.getLogger("tessera.access").isDebugEnabled()).isTrue();
        assertThat(r.getLogger("dev.tessera.Z").isDebugEnabled()).isFalse();
        assertThat(r.levels()).containsEntry("tessera.setup", "debug").containsEntry("dev.tessera.Z", "info");
        r.setLevel("", LogLevel.OFF);
        assertThat(a.isErrorEnabled()).isFalse();
    }

    @Test
    void aTrailingThrowableArgumentBecomesTheError() {
        LoggerRegistry r = registry("info", LogFormat.JSON);
        r.getLogger("x").warn("could not {}", "connect", new IllegalStateException("refused"));
        String line = written(r);
        assertThat(line).contains("\"message\":\"could not connect\"")
                .contains("\"error\":\"java.lang.IllegalStateException: refused\\n\\tat ");
    }

    @Test
    void fluentKeyValuesBecomeTopLevelJsonFields() {
        LoggerRegistry r = registry("info", LogFormat.JSON);
        r.getLogger("tessera.access").atInfo().addKeyValue("src.addr", "198.18.1.2:4000")
                .addKeyValue("bytes_sent", 10L).log("connection complete");
        r.getLogger("tessera.access").atDebug().addKeyValue("hidden", 1).log("not written");
        assertThat(written(r)).matches("\\{\"level\":\"info\",\"time\":\"[0-9T:.-]+Z\",\"scope\":\"tessera.access\","
                + "\"message\":\"connection complete\",\"src.addr\":\"198.18.1.2:4000\",\"bytes_sent\":10,"
                + "\"thread\":\"main\"}\n");
    }

    @Test
    void reconfiguringSwitchesTheFormat() {
        LoggerRegistry r = registry("info", LogFormat.TEXT);
        Logger l = r.getLogger("x");
        l.info("one");
        r.configure(LevelSpec.parse("debug"), LogFormat.JSON);
        l.debug("two");
        assertThat(written(r)).contains("INFO x - one\n").contains("\"message\":\"two\"");
    }

    @Test
    void aFullQueueDropsAndCountsAndTheNextWriteSaysSo() throws Exception {
        var blocked = new CountDownLatch(1);
        var slow = new java.io.OutputStream() {
            final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            @Override
            public void write(int b) {
                bytes.write(b);
            }
            @Override
            public void write(byte[] b, int off, int len) {
                try {
                    blocked.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                bytes.write(b, off, len);
            }
        };
        var r = new LoggerRegistry(slow, 4, LevelSpec.parse("info"), LogFormat.TEXT, ZoneOffset.UTC);
        Logger l = r.getLogger("x");
        for (int i = 0; i < 200; i++) {
            l.info("line {}", i); // never blocks the caller, whatever the output does
        }
        assertThat(r.dropped()).isPositive();
        blocked.countDown();
        r.flush();
        org.awaitility.Awaitility.await().untilAsserted(() -> assertThat(slow.bytes.toString(StandardCharsets.UTF_8))
                .contains("log lines dropped: the output is slower than the logging"));
    }
}
