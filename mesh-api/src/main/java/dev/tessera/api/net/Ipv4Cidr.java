package dev.tessera.api.net;

import static java.util.Objects.requireNonNull;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An IPv4 network in CIDR form, e.g. {@code 198.18.1.0/24}. Parsing never resolves names.
 *
 * @param network the network address as an unsigned 32-bit value in an int
 * @param prefix the prefix length, 0-32
 */
public record Ipv4Cidr(int network, int prefix) {

    public Ipv4Cidr {
        if (prefix < 0 || prefix > 32) {
            throw new IllegalArgumentException("prefix: " + prefix + " (expected: 0-32)");
        }
        if ((network & ~mask(prefix)) != 0) {
            throw new IllegalArgumentException("cidr: '" + format(network) + "/" + prefix
                    + "' (expected: a network address, e.g. " + format(network & mask(prefix)) + "/" + prefix + ")");
        }
    }

    /** Parses {@code a.b.c.d/n}; the address must be the network address. */
    public static Ipv4Cidr parse(String cidr) {
        requireNonNull(cidr, "cidr");
        int slash = cidr.indexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException("cidr: '" + cidr + "' (expected: a.b.c.d/n)");
        }
        int prefix;
        try {
            prefix = Integer.parseInt(cidr.substring(slash + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("cidr: '" + cidr + "' (expected: a.b.c.d/n with n in 0-32)");
        }
        if (prefix < 0 || prefix > 32) {
            throw new IllegalArgumentException("cidr: '" + cidr + "' (expected: a.b.c.d/n with n in 0-32)");
        }
        return new Ipv4Cidr(parseAddress(cidr.substring(0, slash)), prefix);
    }

    /** Parses a dotted-quad IPv4 address into an int (no name resolution). */
    public static int parseAddress(String ip) {
        requireNonNull(ip, "ip");
        // ASCII digits and dots, the usual case, without a split and streams: local mode parses every pod's
        // address a few times per edit. Anything else (errors, other Unicode digits) takes the loop below.
        int v = 0;
        int part = 0;
        int digits = 0;
        int parts = 1;
        boolean ascii = true;
        for (int i = 0; i < ip.length() && ascii; i++) {
            char c = ip.charAt(i);
            if (c >= '0' && c <= '9') {
                part = part * 10 + (c - '0');
                ascii = ++digits <= 3 && part <= 255;
            } else if (c == '.') {
                ascii = digits > 0 && parts < 4;
                v = (v << 8) | part;
                part = 0;
                digits = 0;
                parts++;
            } else {
                ascii = false;
            }
        }
        if (ascii && parts == 4 && digits > 0) {
            return (v << 8) | part;
        }
        return parseAddressSlowly(ip);
    }

    private static int parseAddressSlowly(String ip) {
        String[] parts = ip.split("\\.", -1);
        if (parts.length != 4) {
            throw new IllegalArgumentException("ip: '" + ip + "' (expected: an IPv4 address a.b.c.d)");
        }
        int v = 0;
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(Character::isDigit) || Integer.parseInt(p) > 255) {
                throw new IllegalArgumentException("ip: '" + ip + "' (expected: an IPv4 address a.b.c.d)");
            }
            v = (v << 8) | Integer.parseInt(p);
        }
        return v;
    }

    /** The dotted-quad form of an address. */
    public static String format(int address) {
        return ((address >>> 24) & 0xff) + "." + ((address >>> 16) & 0xff) + "." + ((address >>> 8) & 0xff) + "."
                + (address & 0xff);
    }

    /** The address as an {@link InetAddress} (no name resolution). */
    public static InetAddress toInetAddress(int address) {
        byte[] b = {(byte) (address >>> 24), (byte) (address >>> 16), (byte) (address >>> 8), (byte) address};
        try {
            return Inet4Address.getByAddress(b);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e); // four bytes are always a valid IPv4 address
        }
    }

    private static int mask(int prefix) {
        return prefix == 0 ? 0 : -1 << (32 - prefix);
    }

    public boolean contains(int address) {
        return (address & mask(prefix)) == network;
    }

    /** Whether two networks share any address. */
    public boolean overlaps(Ipv4Cidr other) {
        int p = Math.min(prefix, other.prefix);
        return (network & mask(p)) == (other.network & mask(p));
    }

    /** The highest address of the network. */
    public int broadcast() {
        return network | ~mask(prefix);
    }

    /** The address at an offset from the network address (offset 2 is {@code .2} in a /24). */
    public int address(long offset) {
        if (offset < 0 || offset >= size()) {
            throw new IllegalArgumentException("offset: " + offset + " (expected: inside " + this + ")");
        }
        return (int) (network + offset);
    }

    /** Number of addresses in the network. */
    public long size() {
        return 1L << (32 - prefix);
    }

    @Override
    public String toString() {
        return format(network) + "/" + prefix;
    }
}
