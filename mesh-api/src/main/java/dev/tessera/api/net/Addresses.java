package dev.tessera.api.net;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.regex.Pattern;

/** IP literal parsing that never touches DNS. */
public final class Addresses {

    private static final Pattern IPV4 =
            Pattern.compile("(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}");

    private Addresses() {}

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
