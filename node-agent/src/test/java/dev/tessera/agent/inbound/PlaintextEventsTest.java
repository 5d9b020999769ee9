package dev.tessera.agent.inbound;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.connection.ConnectionContext;
import dev.tessera.agent.policy.Decision;
import dev.tessera.agent.redirect.PeerAuthProgram.PlainEvent;
import dev.tessera.agent.redirect.PeerAuthProgram.PlainVerdict;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.Workload;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A kernel event becomes an inbound plaintext context with the reason of its verdict. */
class PlaintextEventsTest {

    @Test
    void anEventBecomesAnInboundPlaintextContextNamingThePodAndTheDecision() throws Exception {
        var db = new Workload("data", "db-0", "node2", InetAddress.getByName("198.18.2.2"), "db", Map.of(), true,
                SpiffeId.parse("spiffe://cluster.local/ns/data/sa/db"));
        var snapshot = new MeshSnapshot(1, List.of(), List.of(db));
        var e = new PlainEvent(new InetSocketAddress("198.18.9.9", 41000), new InetSocketAddress("198.18.2.2", 5432),
                PlainVerdict.DENIED);
        var d = new Decision(false, "data/db-allow", -1, "no ALLOW rule matched", List.of());
        ConnectionContext c = PlaintextEvents.context(e, snapshot, d);
        assertThat(c.direction()).isEqualTo(ConnectionContext.Direction.INBOUND);
        assertThat(c.route()).isEqualTo(ConnectionContext.RouteKind.PLAINTEXT);
        assertThat(c.client()).isEqualTo(e.source());
        assertThat(c.destination()).isEqualTo(e.pod());
        assertThat(c.destinationWorkload()).isEqualTo(db);
        assertThat(c.sourceWorkload()).isNull();
        assertThat(c.sourceIdentity()).isNull();
        assertThat(c.authorization()).isEqualTo(d);
        assertThat(PlaintextEvents.stats(e).reason()).isEqualTo(CloseReason.POLICY_DENIED);
        assertThat(PlaintextEvents.stats(e).bytesFromSource()).isZero();
        assertThat(PlaintextEvents.stats(new PlainEvent(e.source(), e.pod(), PlainVerdict.STRICT)).reason())
                .isEqualTo(CloseReason.MTLS_REQUIRED);
        assertThat(PlaintextEvents.stats(new PlainEvent(e.source(), e.pod(), PlainVerdict.ALLOWED)).reason())
                .isEqualTo(CloseReason.OK);
        assertThat(PlaintextEvents.stats(new PlainEvent(e.source(), e.pod(), PlainVerdict.PERMISSIVE)).reason())
                .isEqualTo(CloseReason.OK);
    }

    /** An IPv6 plaintext attempt names the pod by its IPv6 address and logs both endpoints in brackets. */
    @Test
    void anIpv6EventNamesTheIpv6PodAndLogsBracketedAddresses() throws Exception {
        var db = new Workload("data", "db-0", "node2", InetAddress.getByName("2001:db8:2::2"), "db", Map.of(), true,
                SpiffeId.parse("spiffe://cluster.local/ns/data/sa/db"));
        var e = new PlainEvent(new InetSocketAddress("2001:db8:9::9", 41000), new InetSocketAddress("2001:db8:2::2", 5432),
                PlainVerdict.STRICT);
        ConnectionContext c = PlaintextEvents.context(e, new MeshSnapshot(1, List.of(), List.of(db)), null);
        assertThat(c.destinationWorkload()).isEqualTo(db);
        String line = dev.tessera.agent.connection.JsonAccessLog.format(c, PlaintextEvents.stats(e));
        assertThat(line).contains("\"reason\":\"MTLS_REQUIRED\"", "\"src_addr\":\"[2001:db8:9::9]:41000\"",
                "\"dst_addr\":\"[2001:db8:2::2]:5432\"", "\"dst_workload\":\"data/db-0\"");
    }
}
