package dev.tessera.agent.connection;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.connection.ConnectionContext.Direction;
import dev.tessera.agent.connection.ConnectionContext.RouteKind;
import dev.tessera.api.identity.SpiffeId;
import java.net.InetSocketAddress;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class JsonAccessLogTest {

    @Test
    void oneJsonLineWithIdentitiesBytesAndReason() {
        var ctx = ConnectionContext.accepted(Direction.OUTBOUND, new InetSocketAddress("198.18.1.2", 40000))
                .withDestination(new InetSocketAddress("198.18.2.2", 5432))
                .withSource(null, SpiffeId.parse("spiffe://cluster.local/ns/shop/sa/web"))
                .withRoute(RouteKind.HBONE, new InetSocketAddress("198.18.0.2", 15008));
        String line = JsonAccessLog.format(ctx, new ConnectionStats(10, 20, Duration.ofMillis(1500), CloseReason.UPSTREAM_RESET));
        assertThat(line).isEqualTo("{\"direction\":\"outbound\",\"route\":\"hbone\",\"reason\":\"UPSTREAM_RESET\","
                + "\"src_addr\":\"198.18.1.2:40000\",\"src_workload\":null,"
                + "\"src_identity\":\"spiffe://cluster.local/ns/shop/sa/web\",\"dst_addr\":\"198.18.2.2:5432\",\"dst_service\":null,"
                + "\"dst_workload\":null,\"dst_identity\":null,\"tunnel_peer\":\"198.18.0.2:15008\","
                + "\"bytes_from_src\":10,\"bytes_to_src\":20,\"duration_ms\":1500}");
    }

    /** IPv6 endpoints as ztunnel prints a SocketAddr: RFC 5952 text in brackets, then the port. */
    @Test
    void ipv6AddressesAreBracketedAndCompressed() {
        var ctx = ConnectionContext.accepted(Direction.INBOUND, new InetSocketAddress("2001:db8:0:0:0:0:1:2", 40000))
                .withDestination(new InetSocketAddress("2001:db8::2:2", 5432))
                .withRoute(RouteKind.HBONE, new InetSocketAddress("2001:db8::2", 15008));
        String line = JsonAccessLog.format(ctx, new ConnectionStats(1, 2, Duration.ofMillis(3), CloseReason.UPSTREAM_RESET));
        assertThat(line).contains("\"src_addr\":\"[2001:db8::1:2]:40000\"", "\"dst_addr\":\"[2001:db8::2:2]:5432\"",
                "\"tunnel_peer\":\"[2001:db8::2]:15008\"");
    }

    @Test
    void countersFollowOpenAndClose() {
        var counters = new ProxyCounters();
        var ctx = ConnectionContext.accepted(Direction.INBOUND, new InetSocketAddress("198.18.1.2", 1));
        var session = new RelaySession(ctx, counters);
        assertThat(counters.active(Direction.INBOUND)).isEqualTo(1);
        session.fail(CloseReason.TARGET_NOT_MESHED);
        session.fail(CloseReason.TUNNEL_RESET); // the first reason wins
        session.close();
        session.close(); // reported once
        assertThat(counters.active(Direction.INBOUND)).isZero();
        assertThat(counters.closed(CloseReason.TARGET_NOT_MESHED)).isEqualTo(1);
        assertThat(counters.closed(CloseReason.TUNNEL_RESET)).isZero();
    }
}
