package dev.tessera.agent.connection;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.connection.ConnectionContext.Direction;
import dev.tessera.agent.connection.ConnectionContext.RouteKind;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.json.Json;
import dev.tessera.api.model.Workload;
import dev.tessera.logging.LevelSpec;
import dev.tessera.logging.LogFormat;
import dev.tessera.logging.LoggerRegistry;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** With {@code --log-format=json} each access record is one JSON line with ztunnel's access-log keys. */
class ZtunnelAccessLogTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    private static Workload pod(String ns, String name, String ip, SpiffeId id) throws Exception {
        return new Workload(ns, name, "node1", InetAddress.getByName(ip), "sa", Map.of(), true, id);
    }

    private String written(LogFormat format, ConnectionContext ctx, ConnectionStats stats) {
        var registry = new LoggerRegistry(out, 64, LevelSpec.parse("info"), format, ZoneOffset.UTC);
        new JsonAccessLog(registry.getLogger(JsonAccessLog.LOGGER), format).closed(ctx, stats);
        registry.flush();
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void anOutboundRecordUsesZtunnelsKeysAndTheClientsByteView() throws Exception {
        var web = SpiffeId.parse("spiffe://cluster.local/ns/shop/sa/web");
        var db = SpiffeId.parse("spiffe://cluster.local/ns/data/sa/db");
        var ctx = ConnectionContext.accepted(Direction.OUTBOUND, new InetSocketAddress("198.18.1.2", 40000))
                .withDestination(new InetSocketAddress("198.18.2.2", 5432))
                .withSource(pod("shop", "web-1", "198.18.1.2", web), web)
                .withTarget(pod("data", "db-0", "198.18.2.2", db), db)
                .withRoute(RouteKind.HBONE, new InetSocketAddress("198.18.0.2", 15008));
        String line = written(LogFormat.JSON, ctx, new ConnectionStats(10, 20, Duration.ofMillis(1500), CloseReason.OK));

        assertThat(line).endsWith("}\n").hasLineCount(1);
        Map<String, Object> r = Json.parseObject(line);
        assertThat(r).containsEntry("level", "info").containsEntry("scope", "tessera.access")
                .containsEntry("message", "connection complete")
                .containsEntry("src.addr", "198.18.1.2:40000").containsEntry("src.workload", "web-1")
                .containsEntry("src.namespace", "shop").containsEntry("src.identity", web.toString())
                .containsEntry("dst.addr", "198.18.2.2:5432").containsEntry("dst.hbone_addr", "198.18.0.2:15008")
                .containsEntry("dst.workload", "db-0").containsEntry("dst.namespace", "data")
                .containsEntry("dst.identity", db.toString()).containsEntry("direction", "outbound")
                .containsEntry("duration", "1500ms").containsEntry("route", "hbone").containsEntry("reason", "OK")
                .doesNotContainKey("error");
        assertThat(((Number) r.get("bytes_sent")).longValue()).isEqualTo(10);
        assertThat(((Number) r.get("bytes_recv")).longValue()).isEqualTo(20);
        assertThat(line).startsWith("{\"level\":\"info\",\"time\":\"").contains("\"src.addr\":");
    }

    @Test
    void anInboundFailureIsAnErrorWithTheServersByteView() {
        var ctx = ConnectionContext.accepted(Direction.INBOUND, new InetSocketAddress("198.18.0.1", 50000))
                .withDestination(new InetSocketAddress("198.18.2.2", 8080));
        String line = written(LogFormat.JSON, ctx,
                new ConnectionStats(10, 20, Duration.ofMillis(3), CloseReason.UPSTREAM_CONNECT_FAILED));
        Map<String, Object> r = Json.parseObject(line);
        assertThat(r).containsEntry("level", "error").containsEntry("error", "UPSTREAM_CONNECT_FAILED")
                .containsEntry("direction", "inbound").containsEntry("src.workload", null)
                .containsEntry("duration", "3ms");
        assertThat(((Number) r.get("bytes_sent")).longValue()).isEqualTo(20);
        assertThat(((Number) r.get("bytes_recv")).longValue()).isEqualTo(10);
    }

    @Test
    void theTextFormatKeepsTodaysMessage() {
        var ctx = ConnectionContext.accepted(Direction.OUTBOUND, new InetSocketAddress("198.18.1.2", 40000))
                .withDestination(new InetSocketAddress("198.18.2.2", 5432));
        var stats = new ConnectionStats(1, 2, Duration.ofMillis(4), CloseReason.OK);
        String line = written(LogFormat.TEXT, ctx, stats);
        assertThat(line).contains(" INFO tessera.access - " + JsonAccessLog.format(ctx, stats) + "\n");
    }

    @Test
    void aKernelDecidedPlaintextAttemptIsAnInboundRecordWithoutBytesInBothFormats() throws Exception {
        var ctx = ConnectionContext.accepted(Direction.INBOUND, new InetSocketAddress("198.18.9.9", 41000))
                .withDestination(new InetSocketAddress("198.18.2.2", 5432))
                .withTarget(pod("data", "db-0", "198.18.2.2", SpiffeId.parse("spiffe://cluster.local/ns/data/sa/db")), null)
                .withAuthorization(new dev.tessera.agent.policy.Decision(false, "data/db-allow", -1,
                        "no ALLOW rule matched", java.util.List.of()))
                .withRoute(RouteKind.PLAINTEXT, null);
        var denied = new ConnectionStats(0, 0, Duration.ZERO, CloseReason.POLICY_DENIED);
        Map<String, Object> r = Json.parseObject(written(LogFormat.JSON, ctx, denied));
        assertThat(r).containsEntry("message", "plaintext connection denied").containsEntry("direction", "inbound")
                .containsEntry("src.addr", "198.18.9.9:41000").containsEntry("dst.addr", "198.18.2.2:5432")
                .containsEntry("dst.workload", "db-0").containsEntry("dst.namespace", "data")
                .containsEntry("route", "plaintext").containsEntry("reason", "POLICY_DENIED")
                .containsEntry("error", "POLICY_DENIED").containsEntry("connection_security_policy", "none")
                .containsEntry("policy", "data/db-allow").containsEntry("policy_decision", "deny");
        assertThat(r.get("bytes_sent")).isNull();
        assertThat(r.get("duration")).isNull();

        out.reset();
        String text = written(LogFormat.TEXT, ctx, new ConnectionStats(0, 0, Duration.ZERO, CloseReason.OK));
        String record = text.substring(text.indexOf('{'), text.lastIndexOf('}') + 1);
        Map<String, Object> t = Json.parseObject(record);
        assertThat(t).containsEntry("direction", "inbound").containsEntry("route", "plaintext")
                .containsEntry("reason", "OK").containsEntry("src_addr", "198.18.9.9:41000")
                .containsEntry("dst_workload", "data/db-0").containsEntry("connection_security_policy", "none")
                .doesNotContainKeys("bytes_from_src", "bytes_to_src", "duration_ms");
    }
}
