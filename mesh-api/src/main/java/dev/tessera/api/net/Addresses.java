package dev.tessera.api.net;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.regex.Pattern;

/** IP literal parsing that never touches DNS. */
public final class Addresses {

    private static final Pattern IPV4 =
            Pattern.compile("(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}");

    private Addresses() {}

    /**
     * The text form of an address as logs, metrics and policies write it: dotted quad for IPv4, RFC 5952 for
     * IPv6 (lowercase, the longest run of two or more zero groups as {@code ::}, no leading zeros, e.g.
     * {@code 2001:db8::1}; a scope as {@code %id}). {@link InetAddress#getHostAddress()} writes every group
     * ({@code 2001:db8:0:0:0:0:0:1}), which is valid but not what other tools print.
     */
    public static String format(InetAddress address) {
        if (!(address instanceof Inet6Address a)) {
            return address.getHostAddress();
        }
        byte[] b = a.getAddress();
        int[] g = new int[8];
        for (int i = 0; i < 8; i++) {
            g[i] = (b[2 * i] & 0xff) << 8 | (b[2 * i + 1] & 0xff);
        }
        int bestStart = -1;
        int bestLen = 1; // a single zero group is not shortened (RFC 5952 4.2.2)
        for (int i = 0; i < 8; ) {
            if (g[i] != 0) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && g[j] == 0) {
                j++;
            }
            if (j - i > bestLen) {
                bestStart = i;
                bestLen = j - i;
            }
            i = j;
        }
        var s = new StringBuilder(39);
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                s.append("::");
                i += bestLen - 1;
                continue;
            }
            if (s.length() > 0 && s.charAt(s.length() - 1) != ':') {
                s.append(':');
            }
            s.append(Integer.toHexString(g[i]));
        }
        if (a.getScopeId() != 0) {
            s.append('%').append(a.getScopeId());
        }
        return s.toString();
    }

    /** {@code host:port}, with the IPv6 host in brackets ({@code [2001:db8::1]:8080}), or null. */
    public static String format(java.net.InetSocketAddress address) {
        if (address == null) {
            return null;
        }
        String host = address.getAddress() == null ? address.getHostString() : format(address.getAddress());
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + address.getPort();
    }

    /**
     * Parses an IPv4 literal ({@code 198.18.0.1}) or an IPv6 literal (contains ':').
     *
     * @param field the name of the field, for the error message
     */
    public static InetAddress parse(String field, String literal) {
        if (literal == null || !(IPV4.matcher(literal).matches() || literal.contains(":"))) {
            throw new IllegalArgumentException(field + ": '" + literal + "' (expected: an IP address literal)");
        }
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(field + ": '" + literal + "' (expected: an IP address literal)", e);
        }
    }
}
