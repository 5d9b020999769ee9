package dev.tessera.agent.redirect.ffi;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Java mirrors of the structs and map layouts in {@code ebpf-programs/src/tessera_redirect.h}.
 * Addresses and ports are in network order (the bytes as on the wire); cookies, prefix lengths and
 * counters in host order. {@code RedirectStructsTest} checks these sizes against the header's
 * {@code _Static_assert}s.
 */
public final class RedirectStructs {

    /** {@code struct tsr_addr4 { __u32 ip4; __u16 port; __u16 pad; }}. */
    public static final int ADDR4_SIZE = 8;
    /** {@code struct tsr_lpm_key4 { __u32 prefixlen; __u32 ip4; }}. */
    public static final int LPM_KEY4_SIZE = 8;
    /** {@code struct tsr_ip6 { __u32 ip6[4]; }}: key of tsr_excluded6 and tsr_mesh_dsts6. */
    public static final int IP6_SIZE = 16;
    /** {@code struct tsr_addr6 { __u32 ip6[4]; __u16 port; __u16 pad; }}. */
    public static final int ADDR6_SIZE = 20;
    /** {@code struct tsr_lpm_key6 { __u32 prefixlen; __u32 ip6[4]; }}. */
    public static final int LPM_KEY6_SIZE = 20;
    /** Key of tsr_enrolled: {@code __u64} netns cookie. */
    public static final int COOKIE_SIZE = 8;
    /** Key of tsr_excluded: {@code __u32} address. Also the {@code __u32} flag value of set-like maps. */
    public static final int U32_SIZE = 4;
    /** Per-CPU value of tsr_stats: {@code __u64}. */
    public static final int U64_SIZE = 8;

    /** {@code enum tsr_stat}. */
    public static final int STAT_REDIRECTED = 0;
    public static final int STAT_RECORDED = 1;
    public static final int STAT_STORE_FAILED = 2;
    public static final int STAT_RECORD_FAILED = 3;
    public static final int STAT_NO_CONFIG = 4;
    public static final int STAT_PEERNAME = 5;
    /** Of {@link #STAT_REDIRECTED}: native IPv6 connects. */
    public static final int STAT_REDIRECTED6 = 6;
    /** Of {@link #STAT_RECORDED}: native IPv6 connections. */
    public static final int STAT_RECORDED6 = 7;
    public static final int STAT_MAX = 8;

    private static final ByteOrder HOST = ByteOrder.nativeOrder();

    private RedirectStructs() {}

    /** {@code struct tsr_addr4} for {@code address} (must be IPv4 or IPv4-mapped). */
    public static byte[] addr4(InetSocketAddress address) {
        return addr4(address.getAddress(), address.getPort());
    }

    /** {@code struct tsr_addr4} for {@code ip:port}. */
    public static byte[] addr4(InetAddress ip, int port) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port: " + port + " (expected: 0-65535)");
        }
        return ByteBuffer.allocate(ADDR4_SIZE).order(ByteOrder.BIG_ENDIAN)
                .put(ipv4Bytes(ip)).putShort((short) port).putShort((short) 0).array();
    }

    /** Decodes a {@code struct tsr_addr4}. */
    public static InetSocketAddress decodeAddr4(byte[] bytes) {
        if (bytes.length != ADDR4_SIZE) {
            throw new IllegalArgumentException("tsr_addr4: " + bytes.length + " bytes (expected: " + ADDR4_SIZE + ")");
        }
        byte[] ip = {bytes[0], bytes[1], bytes[2], bytes[3]};
        int port = ((bytes[4] & 0xff) << 8) | (bytes[5] & 0xff);
        try {
            return new InetSocketAddress(InetAddress.getByAddress(ip), port);
        } catch (UnknownHostException e) {
            throw new AssertionError(e); // four bytes are always a valid address
        }
    }

    /** {@code struct tsr_lpm_key4} for {@code ip/prefixLength}. */
    public static byte[] lpmKey4(InetAddress ip, int prefixLength) {
        if (prefixLength < 0 || prefixLength > 32) {
            throw new IllegalArgumentException("prefixLength: " + prefixLength + " (expected: 0-32)");
        }
        byte[] key = new byte[LPM_KEY4_SIZE];
        ByteBuffer.wrap(key).order(HOST).putInt(0, prefixLength);
        System.arraycopy(ipv4Bytes(ip), 0, key, 4, 4);
        return key;
    }

    /** Decodes a {@code struct tsr_lpm_key4} as {@code "a.b.c.d/n"}. */
    public static String decodeLpmKey4(byte[] key) {
        int prefix = ByteBuffer.wrap(key).order(HOST).getInt(0);
        return (key[4] & 0xff) + "." + (key[5] & 0xff) + "." + (key[6] & 0xff) + "." + (key[7] & 0xff) + "/" + prefix;
    }

    /** {@code struct tsr_addr6} for {@code ip:port} ({@code ip} must be a native IPv6 address). */
    public static byte[] addr6(InetAddress ip, int port) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port: " + port + " (expected: 0-65535)");
        }
        return ByteBuffer.allocate(ADDR6_SIZE).order(ByteOrder.BIG_ENDIAN)
                .put(ipv6Bytes(ip)).putShort((short) port).putShort((short) 0).array();
    }

    /** Decodes a {@code struct tsr_addr6}. */
    public static InetSocketAddress decodeAddr6(byte[] bytes) {
        if (bytes.length != ADDR6_SIZE) {
            throw new IllegalArgumentException("tsr_addr6: " + bytes.length + " bytes (expected: " + ADDR6_SIZE + ")");
        }
        byte[] ip = java.util.Arrays.copyOf(bytes, IP6_SIZE);
        int port = ((bytes[16] & 0xff) << 8) | (bytes[17] & 0xff);
        try {
            return new InetSocketAddress(Inet6Address.getByAddress(null, ip, -1), port);
        } catch (UnknownHostException e) {
            throw new AssertionError(e); // sixteen bytes are always a valid address
        }
    }

    /** {@code struct tsr_lpm_key6} for {@code ip/prefixLength}. */
    public static byte[] lpmKey6(InetAddress ip, int prefixLength) {
        if (prefixLength < 0 || prefixLength > 128) {
            throw new IllegalArgumentException("prefixLength: " + prefixLength + " (expected: 0-128)");
        }
        byte[] key = new byte[LPM_KEY6_SIZE];
        ByteBuffer.wrap(key).order(HOST).putInt(0, prefixLength);
        System.arraycopy(ipv6Bytes(ip), 0, key, 4, IP6_SIZE);
        return key;
    }

    /** The sixteen network-order bytes of a native IPv6 address ({@code struct tsr_ip6}). */
    public static byte[] ipv6Bytes(InetAddress ip) {
        byte[] raw = ip.getAddress();
        if (!(ip instanceof Inet6Address) || raw.length != IP6_SIZE) {
            throw new IllegalArgumentException("address: " + ip.getHostAddress() + " (expected: IPv6)");
        }
        return raw;
    }

    /** The {@code __u64} netns cookie key, host order. */
    public static byte[] cookie(long cookie) {
        return ByteBuffer.allocate(COOKIE_SIZE).order(HOST).putLong(cookie).array();
    }

    public static long decodeCookie(byte[] key) {
        return ByteBuffer.wrap(key).order(HOST).getLong();
    }

    /** {@code struct tsr_probe}: __u64 cgroup_id, __u64 marked, __u32 mark, __u32 pad. */
    public static final int PROBE_SIZE = 24;

    /** A {@code struct tsr_probe} value. */
    public static byte[] probe(long cgroupId, long marked, int mark) {
        return ByteBuffer.allocate(PROBE_SIZE).order(HOST).putLong(cgroupId).putLong(marked).putInt(mark).putInt(0)
                .array();
    }

    /** The {@code marked} counter of a {@code struct tsr_probe} value. */
    public static long probeMarked(byte[] value) {
        return ByteBuffer.wrap(value).order(HOST).getLong(8);
    }

    /** The {@code cgroup_id} of a {@code struct tsr_probe} value. */
    public static long probeCgroupId(byte[] value) {
        return ByteBuffer.wrap(value).order(HOST).getLong(0);
    }

    /** A host-order {@code __u32}. */
    public static byte[] u32(int value) {
        return ByteBuffer.allocate(U32_SIZE).order(HOST).putInt(value).array();
    }

    /** Sums a per-CPU {@code __u64} value over the CPUs. */
    public static long sumPerCpu(byte[] value) {
        ByteBuffer b = ByteBuffer.wrap(value).order(HOST);
        long sum = 0;
        for (int i = 0; i + U64_SIZE <= value.length; i += U64_SIZE) {
            sum += b.getLong(i);
        }
        return sum;
    }

    /** The four network-order bytes of an IPv4 (or IPv4-mapped IPv6) address. */
    public static byte[] ipv4Bytes(InetAddress ip) {
        byte[] raw = ip.getAddress();
        if (ip instanceof Inet4Address) {
            return raw;
        }
        boolean mapped = raw.length == 16 && raw[10] == (byte) 0xff && raw[11] == (byte) 0xff;
        for (int i = 0; mapped && i < 10; i++) {
            mapped = raw[i] == 0;
        }
        if (!mapped) {
            throw new IllegalArgumentException("address: " + ip.getHostAddress() + " (expected: IPv4)");
        }
        return new byte[] {raw[12], raw[13], raw[14], raw[15]};
    }
}
