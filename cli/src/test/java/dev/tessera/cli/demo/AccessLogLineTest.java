package dev.tessera.cli.demo;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class AccessLogLineTest {

    private static final String CLIENT = "spiffe://cluster.local/ns/demo/sa/client";
    private static final String SERVER = "spiffe://cluster.local/ns/demo/sa/server";

    @Test
    void readsFlatSnakeCaseFields() {
        var l = AccessLogLine.parse("[epoll-1] INFO tessera.access - {\"src_identity\":\"" + CLIENT + "\",\"dst_identity\":\""
                + SERVER + "\",\"dst\":\"198.18.2.2:8080\",\"bytes_sent\":9,\"bytes_received\":\"28\",\"duration_ms\":3,\"reason\":\"closed\"}")
                .orElseThrow();
        assertThat(l).isEqualTo(new AccessLogLine(CLIENT, SERVER, null, "198.18.2.2:8080", 9L, 28L, 3L, "closed"));
        assertThat(l.describe()).contains(CLIENT + " -> " + SERVER, "sent 9 B", "received 28 B", "3 ms", "(closed)");
    }

    @Test
    void readsOtherSpellingsAndNesting() {
        var l = AccessLogLine.parse("{\"source\":{\"principal\":\"" + CLIENT + "\",\"address\":\"198.18.1.2:4000\"},"
                + "\"destinationPrincipal\":\"" + SERVER + "\",\"sentBytes\":1,\"receivedBytes\":2,\"responseFlags\":\"-\"}")
                .orElseThrow();
        assertThat(l.srcIdentity()).isEqualTo(CLIENT);
        assertThat(l.dstIdentity()).isEqualTo(SERVER);
        assertThat(l.src()).isEqualTo("198.18.1.2:4000");
        assertThat(l.bytesSent()).isEqualTo(1L);
        assertThat(l.bytesReceived()).isEqualTo(2L);
        assertThat(l.reason()).isEqualTo("-");
    }

    @Test
    void ignoresOtherLines() {
        assertThat(AccessLogLine.parse("[main] INFO dev.tessera.agent.AgentMain - ready")).isEmpty();
        assertThat(AccessLogLine.parse("{\"bytes_sent\": 3}")).isEmpty();
        assertThat(AccessLogLine.parse("tessera.access - {broken")).isEmpty();
        assertThat(AccessLogLine.parse(null)).isEmpty();
    }
}
