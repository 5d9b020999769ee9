package dev.tessera.tests.harness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class AgentMetricsTest {

    @Test
    void sumsEverySeriesOfAMetric() {
        AgentMetrics m = AgentMetrics.parse("""
                # HELP tessera_connections_opened_total x
                # TYPE tessera_connections_opened_total counter
                tessera_connections_opened_total{direction="outbound",dst="a b"} 3
                tessera_connections_opened_total{direction="inbound"} 2.0 1700000000000
                other 1
                """);
        assertThat(m.sum(AgentMetrics.CONNECTIONS_OPENED)).isEqualTo(5.0);
        assertThat(m.sum("other")).isEqualTo(1.0);
        assertThatThrownBy(() -> m.sum("missing_total")).hasMessageContaining("missing_total not exported");
    }

    @Test
    void pcapReaderFindsTcpPayloadAndClientHello() {
        byte[] frame = new byte[14 + 20 + 20 + 6];
        frame[12] = 0x08; // IPv4
        frame[14] = 0x45;
        frame[16] = 0;
        frame[17] = (byte) (20 + 20 + 6); // total length
        frame[23] = 6; // TCP
        frame[26] = (byte) 198; frame[27] = 18; frame[28] = 0; frame[29] = 1;
        frame[30] = (byte) 198; frame[31] = 18; frame[32] = 0; frame[33] = 2;
        frame[36] = (byte) (15008 >> 8); frame[37] = (byte) 15008; // dst port
        frame[46] = 0x50; // data offset 5
        byte[] hello = {0x16, 0x03, 0x01, 0x00, 0x10, 0x01};
        System.arraycopy(hello, 0, frame, 54, 6);
        var file = java.nio.ByteBuffer.allocate(24 + 16 + frame.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        file.putInt(0xa1b2c3d4).putShort((short) 2).putShort((short) 4).putInt(0).putInt(0).putInt(65535).putInt(1);
        file.putInt(0).putInt(0).putInt(frame.length).putInt(frame.length).put(frame);
        var packets = Pcap.parse(file.array());
        assertThat(packets).hasSize(1);
        Pcap.Packet p = packets.get(0);
        assertThat(p.src()).isEqualTo("198.18.0.1");
        assertThat(p.dst()).isEqualTo("198.18.0.2");
        assertThat(p.dstPort()).isEqualTo(15008);
        assertThat(p.payloadLength()).isEqualTo(6);
        assertThat(p.isTlsClientHello()).isTrue();
    }
}
