package dev.tessera.api.net;

import static java.util.Objects.requireNonNull;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An IPv4 or IPv6 network in CIDR form, e.g. {@code 198.18.0.0/15} or {@code 2001:db8::/32}: what policy
 * {@code ipBlocks} hold. Parsing never resolves names; the address must be the network address (host bits zero).
 *
 * <p>IPv4-mapped IPv6 addresses ({@code ::ffff:a.b.c.d}) are the IPv4 host seen through a dual-stack socket:
 * {@link #contains} treats them as that IPv4 address (so {@code ::ffff:198.18.0.1} is in {@code 198.18.0.0/15}
 * and in no IPv6 network), and a network written in mapped form is refused (write it as IPv4). The JDK already
 * turns most mapped addresses into {@link Inet4Address}; this covers the {@link Inet6Address}s it does not.
 *
 * @param network the network address ({@link Inet4Address} or {@link Inet6Address} without scope)
 * @param prefix the prefix length, 0-32 (IPv4) or 0-128 (IPv6)
 */
public record IpCidr(InetAddress network, int prefix) {

    /** An address family, with its address length. */
    public enum Family {
        IPV4(32),
        IPV6(128);

        private final int bits;

        Family(int bits) {
            this.bits = bits;
        }

        /** Address length in bits (32 or 128). */
        public int bits() {
            return bits;
        }

        /** The family of {@code address}; an IPv4-mapped IPv6 address is IPv4. */
        public static Family of(InetAddress address) {
            return unmapped(requireNonNull(address, "address")) instanceof Inet4Address ? IPV4 : IPV6;
        }
    }

    private static final String EXPECTED = "a.b.c.d/n with n in 0-32, or x:x::x/n with n in 0-128";

    public IpCidr {
        requireNonNull(network, "network");
        if (network instanceof Inet6Address a && (a.getScopeId() != 0 || a.getScopedInterface() != null)) {
            throw new IllegalArgumentException("cidr: '" + network + "' (expected: an address without scope)");
        }
        if (network instanceof Inet6Address && unmapped(network) instanceof Inet4Address) {
            throw new IllegalArgumentException("cidr: '" + Addresses.format(network) + "/" + prefix
                    + "' (expected: an IPv4-mapped network written as IPv4, a.b.c.d/n)");
        }
        int bits = network.getAddress().length * 8;
        if (prefix < 0 || prefix > bits) {
            throw new IllegalArgumentException("prefix: " + prefix + " (expected: 0-" + bits + ")");
        }
        byte[] b = network.getAddress();
        if (!hostBitsZero(b, prefix)) {
            throw new IllegalArgumentException("cidr: '" + Addresses.format(network) + "/" + prefix
                    + "' (expected: a network address, e.g. " + Addresses.format(masked(b, prefix)) + "/" + prefix + ")");
        }
    }

    /** Parses {@code a.b.c.d/n} or {@code x:x::x/n}; the address must be the network address. */
    public static IpCidr parse(String cidr) {
        requireNonNull(cidr, "cidr");
        int slash = cidr.indexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException("cidr: '" + cidr + "' (expected: " + EXPECTED + ")");
        }
        String addr = cidr.substring(0, slash);
        boolean v6 = addr.contains(":");
        int prefix;
        try {
            prefix = Integer.parseInt(cidr.substring(slash + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("cidr: '" + cidr + "' (expected: " + EXPECTED + ")");
        }
        if (prefix < 0 || prefix > (v6 ? 128 : 32) || !cidr.substring(slash + 1).chars().allMatch(Character::isDigit)) {
            throw new IllegalArgumentException("cidr: '" + cidr + "' (expected: " + EXPECTED + ")");
        }
        InetAddress network;
        if (v6) {
            network = parse6(cidr, addr);
        } else {
            try {
                network = Ipv4Cidr.toInetAddress(Ipv4Cidr.parseAddress(addr));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("cidr: '" + cidr + "' (expected: " + EXPECTED + ")");
            }
        }
        return new IpCidr(network, prefix);
    }

    /** An IPv4 network from its 32-bit value (as {@link Ipv4Cidr} holds it). */
    public static IpCidr ipv4(int network, int prefix) {
        return new IpCidr(Ipv4Cidr.toInetAddress(network), prefix);
    }

    /** The same network as an {@link IpCidr}. */
    public static IpCidr of(Ipv4Cidr cidr) {
        return ipv4(cidr.network(), cidr.prefix());
    }

    /** {@code 0.0.0.0/0} or {@code ::/0}: every address of {@code family}. */
    public static IpCidr any(Family family) {
        return new IpCidr(fromBytes(new byte[requireNonNull(family, "family").bits() / 8]), 0);
    }

    private static InetAddress parse6(String cidr, String addr) {
        // A literal of hex digits, ':' and '.' (an embedded IPv4 tail): no scope, no brackets, never a name.
        if (!addr.chars().allMatch(ch -> Character.digit(ch, 16) >= 0 || ch == ':' || ch == '.')) {
            throw new IllegalArgumentException("cidr: '" + cidr + "' (expected: " + EXPECTED + ")");
        }
        InetAddress a;
        try {
            a = InetAddress.getByName(addr);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("cidr: '" + cidr + "' (expected: " + EXPECTED + ")");
        }
        if (a instanceof Inet4Address) { // the JDK unmaps ::ffff:a.b.c.d
            throw new IllegalArgumentException("cidr: '" + cidr
                    + "' (expected: an IPv4-mapped network written as IPv4, a.b.c.d/n)");
        }
        return a;
    }

    /** IPV4 or IPV6. */
    public Family family() {
        return network instanceof Inet4Address ? Family.IPV4 : Family.IPV6;
    }

    /** The network address in network order (4 or 16 bytes). */
    public byte[] networkBytes() {
        return network.getAddress();
    }

    /**
     * Whether {@code address} is in this network. An address of the other family never is; an IPv4-mapped IPv6
     * address counts as its IPv4 address.
     */
    public boolean contains(InetAddress address) {
        InetAddress a = unmapped(requireNonNull(address, "address"));
        byte[] b = a.getAddress();
        byte[] n = network.getAddress();
        return b.length == n.length && samePrefix(b, n, prefix);
    }

    /** Whether {@code other} (same family) lies entirely inside this network. */
    public boolean contains(IpCidr other) {
        return other.family() == family() && other.prefix >= prefix && contains(other.network);
    }

    /** Whether two networks share any address (never across families). */
    public boolean overlaps(IpCidr other) {
        return other.family() == family()
                && samePrefix(network.getAddress(), other.network.getAddress(), Math.min(prefix, other.prefix));
    }

    /**
     * One half of this network: the lower ({@code upper == false}) or upper half, one bit longer.
     *
     * @throws IllegalStateException for a single address (/32, /128)
     */
    public IpCidr half(boolean upper) {
        if (prefix == family().bits()) {
            throw new IllegalStateException(this + " is a single address");
        }
        byte[] b = network.getAddress();
        if (upper) {
            b[prefix / 8] |= (byte) (0x80 >>> (prefix % 8));
        }
        return new IpCidr(fromBytes(b), prefix + 1);
    }

    @Override
    public String toString() {
        return Addresses.format(network) + "/" + prefix;
    }

    /** {@code address}, or the IPv4 address an IPv4-mapped IPv6 address stands for. */
    public static InetAddress unmapped(InetAddress address) {
        byte[] b = address.getAddress();
        if (b.length != 16) {
            return address;
        }
        for (int i = 0; i < 10; i++) {
            if (b[i] != 0) {
                return address;
            }
        }
        if (b[10] != (byte) 0xff || b[11] != (byte) 0xff) {
            return address;
        }
        return fromBytes(new byte[] {b[12], b[13], b[14], b[15]});
    }

    private static boolean samePrefix(byte[] a, byte[] b, int prefix) {
        int full = prefix / 8;
        for (int i = 0; i < full; i++) {
            if (a[i] != b[i]) {
                return false;
            }
        }
        int rem = prefix % 8;
        if (rem == 0) {
            return true;
        }
        int mask = (0xff << (8 - rem)) & 0xff;
        return (a[full] & mask) == (b[full] & mask);
    }

    private static boolean hostBitsZero(byte[] b, int prefix) {
        byte[] m = b.clone();
        return java.util.Arrays.equals(maskBytes(m, prefix), b);
    }

    private static InetAddress masked(byte[] b, int prefix) {
        return fromBytes(maskBytes(b.clone(), prefix));
    }

    private static byte[] maskBytes(byte[] b, int prefix) {
        for (int i = 0; i < b.length; i++) {
            int keep = Math.max(0, Math.min(8, prefix - i * 8));
            b[i] &= (byte) ((0xff << (8 - keep)) & 0xff);
        }
        return b;
    }

    /** 4 or 16 bytes as an address, never unmapped by the JDK for 16 (an IPv6 address stays IPv6). */
    private static InetAddress fromBytes(byte[] b) {
        try {
            return b.length == 16 ? Inet6Address.getByAddress(null, b, -1) : InetAddress.getByAddress(b);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e); // 4 or 16 bytes are always an address
        }
    }
}
