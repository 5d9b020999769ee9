package dev.tessera.api.net;

import static java.util.Objects.requireNonNull;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;

/**
 * An IPv6 network in CIDR form, e.g. {@code 2001:db8::/32}: the IPv6 counterpart of {@link Ipv4Cidr}.
 * Parsing never resolves names.
 *
 * @param high the network address's upper 64 bits
 * @param low the network address's lower 64 bits
 * @param prefix the prefix length, 0-128
 */
public record Ipv6Cidr(long high, long low, int prefix) {

    public Ipv6Cidr {
        if (prefix < 0 || prefix > 128) {
            throw new IllegalArgumentException("prefix: " + prefix + " (expected: 0-128)");
        }
        if ((high & ~maskHigh(prefix)) != 0 || (low & ~maskLow(prefix)) != 0) {
            throw new IllegalArgumentException("cidr: '" + format(high, low) + "/" + prefix
                    + "' (expected: a network address, e.g. " + format(high & maskHigh(prefix), low & maskLow(prefix))
                    + "/" + prefix + ")");
        }
    }

    /** Whether {@code cidr} is written as an IPv6 network (it holds a ':'); says nothing of its validity. */
    public static boolean isIpv6(String cidr) {
        return cidr != null && cidr.indexOf(':') >= 0;
    }

    /** Parses {@code x:x::x/n}; the address must be the network address. */
    public static Ipv6Cidr parse(String cidr) {
        requireNonNull(cidr, "cidr");
        int slash = cidr.indexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException("cidr: '" + cidr + "' (expected: an IPv6 network x:x::/n)");
        }
        int prefix;
        try {
            prefix = Integer.parseInt(cidr.substring(slash + 1));
        } catch (NumberFormatException e) {
            prefix = -1;
        }
        if (prefix < 0 || prefix > 128) {
            throw new IllegalArgumentException("cidr: '" + cidr + "' (expected: an IPv6 network x:x::/n with n in 0-128)");
        }
        byte[] b = parseAddress(cidr.substring(0, slash), "cidr", cidr);
        ByteBuffer buf = ByteBuffer.wrap(b);
        return new Ipv6Cidr(buf.getLong(), buf.getLong(), prefix);
    }

    /** Parses an IPv6 literal into its 16 bytes (no name resolution; no zone, no IPv4 literal). */
    public static byte[] parseAddress(String ip) {
        return parseAddress(ip, "ip", ip);
    }

    private static byte[] parseAddress(String ip, String field, String shown) {
        requireNonNull(ip, "ip");
        if (ip.indexOf(':') < 0 || ip.indexOf('%') >= 0 || !ip.chars().allMatch(c -> c == ':' || c == '.'
                || Character.digit(c, 16) >= 0)) {
            throw new IllegalArgumentException(field + ": '" + shown + "' (expected: an IPv6 address, e.g. 2001:db8::1)");
        }
        try {
            byte[] b = InetAddress.getByName(ip).getAddress(); // a literal: never resolved
            if (b.length != 16) { // ::ffff:a.b.c.d comes back as IPv4
                throw new IllegalArgumentException(field + ": '" + shown
                        + "' (expected: a native IPv6 address, not an IPv4-mapped one)");
            }
            return b;
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(field + ": '" + shown + "' (expected: an IPv6 address, e.g. 2001:db8::1)",
                    e);
        }
    }

    /** The network address's 16 bytes, network order. */
    public byte[] networkBytes() {
        return ByteBuffer.allocate(16).putLong(high).putLong(low).array();
    }

    /** The network address. */
    public InetAddress network() {
        try {
            return Inet6Address.getByAddress(null, networkBytes(), -1);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e); // sixteen bytes are always a valid IPv6 address
        }
    }

    /** Whether {@code address} lies in this network (an IPv4 address never does). */
    public boolean contains(InetAddress address) {
        if (address instanceof Inet4Address) {
            return false;
        }
        ByteBuffer b = ByteBuffer.wrap(address.getAddress());
        return (b.getLong() & maskHigh(prefix)) == high && (b.getLong() & maskLow(prefix)) == low;
    }

    private static long maskHigh(int prefix) {
        return prefix == 0 ? 0 : prefix >= 64 ? -1L : -1L << (64 - prefix);
    }

    private static long maskLow(int prefix) {
        return prefix <= 64 ? 0 : prefix == 128 ? -1L : -1L << (128 - prefix);
    }

    private static String format(long high, long low) {
        try {
            byte[] b = ByteBuffer.allocate(16).putLong(high).putLong(low).array();
            String s = InetAddress.getByAddress(b).getHostAddress();
            return compress(s);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    /** RFC 5952 text of the JDK's full form (longest run of zero groups as {@code ::}, lower case). */
    private static String compress(String full) {
        if (full.indexOf(':') < 0) { // an IPv4-mapped network came back as IPv4: show it as such
            return "::ffff:" + full;
        }
        String[] groups = full.split(":");
        int bestStart = -1;
        int bestLen = 1;
        for (int i = 0; i < groups.length;) {
            if (groups[i].equals("0")) {
                int j = i;
                while (j < groups.length && groups[j].equals("0")) {
                    j++;
                }
                if (j - i > bestLen) {
                    bestStart = i;
                    bestLen = j - i;
                }
                i = j;
            } else {
                i++;
            }
        }
        if (bestStart < 0) {
            return String.join(":", groups);
        }
        String head = String.join(":", java.util.Arrays.copyOfRange(groups, 0, bestStart));
        String tail = String.join(":", java.util.Arrays.copyOfRange(groups, bestStart + bestLen, groups.length));
        return head + "::" + tail;
    }

    @Override
    public String toString() {
        return format(high, low) + "/" + prefix;
    }
}
