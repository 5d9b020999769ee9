package dev.tessera.agent.redirect;

import static java.util.Objects.requireNonNull;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An IPv4 prefix such as {@code 198.18.0.0/15}, normalised (host bits cleared).
 *
 * @param network the first address of the prefix
 * @param prefixLength 0-32
 */
public record Ipv4Cidr(Inet4Address network, int prefixLength) {

    public Ipv4Cidr {
        requireNonNull(network, "network");
        if (prefixLength < 0 || prefixLength > 32) {
            throw new IllegalArgumentException("prefixLength: " + prefixLength + " (expected: 0-32)");
        }
        network = mask(network, prefixLength);
    }

    /** Parses {@code a.b.c.d/n}; a bare address means {@code /32}. */
    public static Ipv4Cidr parse(String cidr) {
        requireNonNull(cidr, "cidr");
        String s = cidr.trim();
        int slash = s.indexOf('/');
        String ip = slash < 0 ? s : s.substring(0, slash);
        int prefix;
        try {
            prefix = slash < 0 ? 32 : Integer.parseInt(s.substring(slash + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("cidr: " + cidr + " (expected: a.b.c.d/0-32)");
        }
        if (!ip.matches("\\d{1,3}(\\.\\d{1,3}){3}") || prefix < 0 || prefix > 32) {
            throw new IllegalArgumentException("cidr: " + cidr + " (expected: a.b.c.d/0-32)");
        }
        byte[] bytes = new byte[4];
        String[] parts = ip.split("\\.");
        for (int i = 0; i < 4; i++) {
            int octet = Integer.parseInt(parts[i]);
            if (octet > 255) {
                throw new IllegalArgumentException("cidr: " + cidr + " (expected: a.b.c.d/0-32)");
            }
            bytes[i] = (byte) octet;
        }
        return new Ipv4Cidr(toInet4(bytes), prefix);
    }

    /** True when {@code address} (IPv4) lies inside this prefix. */
    public boolean contains(InetAddress address) {
        if (!(address instanceof Inet4Address a)) {
            return false;
        }
        return mask(a, prefixLength).equals(network);
    }

    @Override
    public String toString() {
        return network.getHostAddress() + "/" + prefixLength;
    }

    private static Inet4Address mask(Inet4Address address, int prefixLength) {
        byte[] b = address.getAddress();
        int bits = java.nio.ByteBuffer.wrap(b).getInt();
        int masked = prefixLength == 0 ? 0 : bits & (-1 << (32 - prefixLength));
        return toInet4(java.nio.ByteBuffer.allocate(4).putInt(masked).array());
    }

    private static Inet4Address toInet4(byte[] bytes) {
        try {
            return (Inet4Address) InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }
}
