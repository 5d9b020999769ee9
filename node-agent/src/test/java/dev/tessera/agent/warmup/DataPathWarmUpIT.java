package dev.tessera.agent.warmup;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The warm-up runs the real data path (TLS 1.3, HTTP/2 CONNECT, relay, half-close) on loopback. */
class DataPathWarmUpIT {

    @Test
    void everyWarmUpConnectionGoesThroughTheWholeDataPath() {
        var r = DataPathWarmUp.run(40, Duration.ofSeconds(60));
        assertThat(r.connections()).isEqualTo(40);
        assertThat(r.failed()).as("warm-up connections that failed").isZero();
    }

    @Test
    void zeroConnectionsIsNoWarmUp() {
        assertThat(DataPathWarmUp.run(0, Duration.ofSeconds(5))).isEqualTo(new DataPathWarmUp.Result(0, 0, 0, false));
    }

    /**
     * The HTTP endpoints' pipeline (probes, scrapes) has a {@code ChannelHandlerContext} class of its own; loaded
     * after C2 compiled the tunnel, it invalidated that code (compiled for one context class) in the second after
     * readiness. The warm-up loads it before the tunnel's first connection. In a JVM of its own, so that no other
     * test has loaded the classes already; the class-loading log gives the order.
     */
    @Test
    void theHttpEndpointsContextClassAndTheLateClassesAreLoadedBeforeTheTunnelRuns(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("classes.log");
        var cmd = new ArrayList<String>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xlog:class+load=info:file=" + log, "-cp", System.getProperty("java.class.path"),
                WarmUpOnly.class.getName()));
        var p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isZero();
        assertThat(out).contains("connections=8 failed=0");
        List<String> loaded = Files.readAllLines(log).stream()
                .map(l -> l.replaceFirst("^.*\\] ", "").split(" ", 2)[0]).toList();
        int httpContext = loaded.indexOf("io.netty.channel.CombinedChannelDuplexHandler$DelegatingChannelHandlerContext");
        int tunnel = loaded.indexOf("io.netty.handler.codec.http2.Http2FrameCodec");
        assertThat(httpContext).as("the HTTP endpoints' context class is loaded").isNotNegative();
        assertThat(tunnel).as("the tunnel ran").isNotNegative();
        assertThat(httpContext).as("loaded before the tunnel's codec").isLessThan(tunnel);
        for (String late : DataPathWarmUp.LATE_CLASSES) {
            assertThat(loaded.indexOf(late)).as(late + " loaded before the tunnel's codec").isNotNegative()
                    .isLessThan(tunnel);
        }
    }

    /** Runs a short warm-up and prints its result. */
    public static final class WarmUpOnly {
        public static void main(String[] args) {
            var r = DataPathWarmUp.run(8, Duration.ofSeconds(60));
            System.out.println("connections=" + r.connections() + " failed=" + r.failed());
        }
    }
}
