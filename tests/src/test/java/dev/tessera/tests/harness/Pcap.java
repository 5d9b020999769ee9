package dev.tessera.tests.harness;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** A reader for classic pcap files (Ethernet link type) that decodes IPv4/TCP packets. */
public final class Pcap {

    private Pcap() {}

    /**
     * One IPv4 TCP packet.
     *
     * @param payload the captured part of the TCP payload
     * @param payloadLength the payload's full length on the wire (from the original packet length)
     */
    public record Packet(String src, int srcPort, String dst, int dstPort, byte[] payload, int payloadLength) {

        /** A TLS handshake record carrying a ClientHello (content type 22, version 3.x, handshake type 1). */
        public boolean isTlsClientHello() {
            return payload.length >= 6 && payload[0] == 0x16 && payload[1] == 0x03 && payload[5] == 0x01;
        }
    }

    public static List<Packet> parse(byte[] file) {
        var out = new ArrayList<Packet>();
        if (file.length < 24) {
            return out;
        }
        ByteBuffer b = ByteBuffer.wrap(file);
        int magic = b.order(ByteOrder.LITTLE_ENDIAN).getInt(0);
        if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
            b.order(ByteOrder.BIG_ENDIAN);
        }
        int linkType = b.getInt(20);
        if (linkType != 1) {
            throw new IllegalArgumentException("pcap link type: " + linkType + " (expected: 1, Ethernet)");
        }
        int pos = 24;
        while (pos + 16 <= file.length) {
            int incl = b.getInt(pos + 8);
            int orig = b.getInt(pos + 12);
            int start = pos + 16;
            if (incl < 0 || start + incl > file.length) {
                break;
            }
            decode(file, start, incl, orig, out);
            pos = start + incl;
        }
        return out;
    }

    private static void decode(byte[] f, int at, int incl, int orig, List<Packet> out) {
        if (incl < 14 + 20 || (f[at + 12] & 0xff) != 0x08 || f[at + 13] != 0x00) {
            return; // not IPv4
        }
        int ip = at + 14;
        int ihl = (f[ip] & 0x0f) * 4;
        if ((f[ip] >> 4 & 0xf) != 4 || (f[ip + 9] & 0xff) != 6 || incl < 14 + ihl + 20) {
            return; // not TCP
        }
        int tcp = ip + ihl;
        int doff = ((f[tcp + 12] & 0xff) >> 4) * 4;
        int payloadStart = tcp + doff;
        int captured = Math.max(0, at + incl - payloadStart);
        int totalLength = (f[ip + 2] & 0xff) << 8 | (f[ip + 3] & 0xff); // 0 only for >64 KiB (BIG TCP) packets
        int onWire = Math.max(0, (totalLength > 0 ? totalLength : orig - 14) - ihl - doff);
        out.add(new Packet(addr(f, ip + 12), port(f, tcp), addr(f, ip + 16), port(f, tcp + 2),
                Arrays.copyOfRange(f, payloadStart, payloadStart + captured), onWire));
    }

    private static String addr(byte[] f, int i) {
        return (f[i] & 0xff) + "." + (f[i + 1] & 0xff) + "." + (f[i + 2] & 0xff) + "." + (f[i + 3] & 0xff);
    }

    private static int port(byte[] f, int i) {
        return (f[i] & 0xff) << 8 | (f[i + 1] & 0xff);
    }

    /** Index of {@code needle} in {@code hay} from {@code from}, or -1. */
    public static int indexOf(byte[] hay, byte[] needle, int from) {
        outer:
        for (int i = from; i <= hay.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
