package dev.tessera.agent.config;

import static java.util.Objects.requireNonNull;

/**
 * The controller's agent endpoint, {@code HOST:PORT} (IPv6 in brackets: {@code [fd00::1]:15012}).
 *
 * @param host a DNS name or an address; the controller's certificate must name it
 * @param port 1-65535
 */
public record ControllerAddress(String host, int port) {

    public ControllerAddress {
        requireNonNull(host, "host");
        if (host.isBlank()) {
            throw new IllegalArgumentException("--controller: empty host (expected: HOST:PORT)");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("--controller: port " + port + " (expected: 1-65535)");
        }
    }

    /** Parses {@code HOST:PORT}. */
    public static ControllerAddress parse(String value) {
        requireNonNull(value, "value");
        int colon = value.lastIndexOf(':');
        if (colon <= 0 || colon == value.length() - 1) {
            throw new IllegalArgumentException("--controller: '" + value + "' (expected: HOST:PORT, e.g. tessera-controller.tessera-system.svc:15012)");
        }
        String host = value.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(value.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--controller: port '" + value.substring(colon + 1) + "' (expected: 1-65535)");
        }
        return new ControllerAddress(host, port);
    }

    @Override
    public String toString() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}
