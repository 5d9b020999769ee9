package dev.tessera.api.netns;

import dev.tessera.api.net.Ipv4Cidr;

/**
 * The IPv6 side of a dual-stack local cluster ({@code tessera local up --dual-stack}): every IPv4 address of
 * the plan has the IPv6 address that embeds it in the documentation prefix {@code 2001:db8::/96}, so node
 * {@code 198.18.0.1} is also {@code 2001:db8::c612:1}, pod {@code 198.18.1.5} is also {@code 2001:db8::c612:105}
 * and pod CIDR {@code 198.18.1.0/24} is also {@code 2001:db8::c612:100/120}. Derived, not planned: the IPv4
 * plan's stability and uniqueness carry over, and a test can name both addresses of a pod.
 */
public final class DualStack {

    /** The /96 every IPv6 address of a local cluster is in. */
    public static final String PREFIX = "2001:db8::";

    private DualStack() {}

    /** The IPv6 address of the IPv4 address {@code ipv4} ({@code a.b.c.d}). */
    public static String ipv6Of(String ipv4) {
        int v = Ipv4Cidr.parseAddress(ipv4);
        return PREFIX + Integer.toHexString(v >>> 16) + ":" + Integer.toHexString(v & 0xffff);
    }

    /** {@link #ipv6Of} as an address. */
    public static java.net.InetAddress inet6Of(String ipv4) {
        int v = Ipv4Cidr.parseAddress(ipv4);
        byte[] b = new byte[16];
        b[0] = 0x20;
        b[1] = 0x01;
        b[2] = 0x0d;
        b[3] = (byte) 0xb8;
        b[12] = (byte) (v >>> 24);
        b[13] = (byte) (v >>> 16);
        b[14] = (byte) (v >>> 8);
        b[15] = (byte) v;
        try {
            return java.net.InetAddress.getByAddress(b);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e); // sixteen bytes are always a valid IPv6 address
        }
    }

    /** The IPv6 network of the IPv4 network {@code cidr} ({@code a.b.c.d/n}): /(96 + n). */
    public static String cidr6Of(String cidr) {
        Ipv4Cidr c = Ipv4Cidr.parse(cidr);
        return ipv6Of(Ipv4Cidr.format(c.network())) + "/" + (96 + c.prefix());
    }
}
