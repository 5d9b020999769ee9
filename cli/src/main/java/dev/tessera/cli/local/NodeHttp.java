package dev.tessera.cli.local;

import dev.tessera.api.netns.Netns;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A minimal HTTP/1.0 GET issued from inside a network namespace (the agent's readiness and metrics
 * ports are only reachable there). Plain sockets on a thread that joined the namespace.
 */
public final class NodeHttp {

    private NodeHttp() {}

    /** A response: status code and body. */
    public record Response(int status, String body) {}

    /** GETs {@code http://host:port/path} from inside the network namespace {@code netns}. */
    public static Response get(Path netns, String host, int port, String path, Duration timeout) throws IOException {
        try {
            return Netns.call(netns, () -> request(host, port, path, timeout));
        } catch (IOException e) {
            throw new IOException("GET http://" + host + ":" + port + path + " (in " + netns + "): " + e.getMessage(), e);
        }
    }

    private static Response request(String host, int port, String path, Duration timeout) throws IOException {
        try (Socket s = new Socket()) {
            int ms = (int) timeout.toMillis();
            s.connect(new InetSocketAddress(host, port), ms);
            s.setSoTimeout(ms);
            String req = "GET " + path + " HTTP/1.0\r\nHost: " + host + ":" + port + "\r\nConnection: close\r\n\r\n";
            s.getOutputStream().write(req.getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            return parse(s.getInputStream().readAllBytes());
        }
    }

    /** Parses a raw HTTP/1.x response (status line, headers, body; chunked bodies are joined). */
    public static Response parse(byte[] raw) throws IOException {
        String text = new String(raw, StandardCharsets.ISO_8859_1);
        int headerEnd = text.indexOf("\r\n\r\n");
        if (!text.startsWith("HTTP/") || headerEnd < 0) {
            throw new IOException("not an HTTP response: " + text.substring(0, Math.min(80, text.length())));
        }
        String[] statusLine = text.substring(0, text.indexOf("\r\n")).split(" ", 3);
        int status = Integer.parseInt(statusLine[1]);
        String headers = text.substring(0, headerEnd).toLowerCase(java.util.Locale.ROOT);
        byte[] body = java.util.Arrays.copyOfRange(raw, headerEnd + 4, raw.length);
        if (headers.contains("transfer-encoding: chunked")) {
            body = dechunk(new java.io.ByteArrayInputStream(body));
        }
        return new Response(status, new String(body, StandardCharsets.UTF_8));
    }

    private static byte[] dechunk(InputStream in) throws IOException {
        var out = new ByteArrayOutputStream();
        while (true) {
            var line = new StringBuilder();
            int c;
            while ((c = in.read()) != -1 && c != '\n') {
                if (c != '\r') {
                    line.append((char) c);
                }
            }
            String size = line.toString().split(";")[0].trim();
            if (size.isEmpty()) {
                if (c == -1) {
                    return out.toByteArray();
                }
                continue;
            }
            int n = Integer.parseInt(size, 16);
            if (n == 0) {
                return out.toByteArray();
            }
            out.write(in.readNBytes(n));
        }
    }
}
