package dev.tessera.api.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.io.IOException;
import java.io.InputStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The probe/metrics/admin HTTP server against clients that misbehave, on loopback. */
class HttpEndpointServerTest {

    private final MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final ExecutorService handlers = Executors.newSingleThreadExecutor();
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final List<Socket> sockets = new ArrayList<>();
    private HttpEndpointServer server;

    @BeforeEach
    void start() throws IOException {
        server = new HttpEndpointServer("test", new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), group,
                handlers, HttpEndpointServer.DEFAULTS.withRequestDeadline(Duration.ofMillis(500)).withMaxConnections(8, 4));
        server.route("/healthz/ready", r -> HttpEndpointServer.Response.text(200, "ready\n"))
                .route("/echo", r -> HttpEndpointServer.Response.json(200,
                        "{\"method\":\"" + r.method() + "\",\"query\":\"" + r.rawQuery() + "\",\"body\":\"" + r.bodyText() + "\"}"))
                .route("/", r -> HttpEndpointServer.Response.text(404, "unknown\n"))
                .route("/fail", r -> {
                    throw new IllegalStateException("boom");
                });
        server.start();
    }

    @AfterEach
    void stop() throws IOException {
        for (Socket s : sockets) {
            s.close();
        }
        server.close();
        handlers.shutdownNow();
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
    }

    private HttpResponse<String> get(String path) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.address().getPort() + path))
                .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private Socket rawConnection() throws IOException {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), server.address().getPort());
        sockets.add(s);
        return s;
    }

    @Test
    void routesByLongestPrefixWithMethodQueryAndBody() throws Exception {
        assertThat(get("/healthz/ready").body()).isEqualTo("ready\n");
        assertThat(get("/nowhere").statusCode()).isEqualTo(404);
        var post = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.address().getPort()
                + "/echo?x=1")).POST(HttpRequest.BodyPublishers.ofString("hi")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(post.body()).isEqualTo("{\"method\":\"POST\",\"query\":\"x=1\",\"body\":\"hi\"}");
        assertThat(post.headers().firstValue("content-type")).hasValue("application/json");
        assertThat(get("/fail").statusCode()).isEqualTo(500);
    }

    @Test
    void aClientHoldingHalfARequestStallsNobodyAndIsClosedAtTheDeadline() throws Exception {
        Socket slow = rawConnection();
        slow.getOutputStream().write("GET /healthz/ready HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
        slow.getOutputStream().flush();
        for (int i = 0; i < 5; i++) { // answered while the slow client holds its connection
            assertThat(get("/healthz/ready").statusCode()).isEqualTo(200);
        }
        slow.setSoTimeout(5000);
        assertThat(slow.getInputStream().read()).as("the slow connection after its request deadline").isEqualTo(-1);
        assertThat(server.refused()).isEqualTo(1);
    }

    @Test
    void connectionsAreCappedPerSource() throws Exception {
        for (int i = 0; i < 4; i++) {
            rawConnection(); // silent: they hold their slots until the deadline
        }
        await().atMost(Duration.ofSeconds(2)).until(() -> server.connections() == 4);
        Socket fifth = rawConnection();
        fifth.setSoTimeout(2000);
        InputStream in = fifth.getInputStream();
        assertThat(in.read()).as("a connection over the per-source cap").isEqualTo(-1);
        // once the silent ones are cut, probes get through again
        await().atMost(Duration.ofSeconds(5)).ignoreExceptions().until(() -> get("/healthz/ready").statusCode() == 200);
    }

    @Test
    void clientsThatLeaveKeptAliveConnectionsOpenAreServedBeyondTheCap() throws Exception {
        var clients = new ArrayList<HttpClient>();
        for (int i = 0; i < 12; i++) { // a new client per request, each keeping its connection: 3x the cap of 4
            var c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
            clients.add(c);
            var r = c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.address().getPort()
                    + "/healthz/ready")).timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as("request %d", i).isEqualTo(200);
        }
        await().atMost(Duration.ofSeconds(2)).until(() -> server.connections() <= 4);
    }

    @Test
    void aKeptAliveConnectionServesSeveralRequests() throws Exception {
        Socket s = rawConnection();
        s.setSoTimeout(2000);
        var out = s.getOutputStream();
        var in = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
        for (int i = 0; i < 3; i++) {
            out.write("GET /healthz/ready HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            assertThat(in.readLine()).isEqualTo("HTTP/1.1 200 OK");
            String line;
            int length = -1;
            while (!(line = in.readLine()).isEmpty()) {
                if (line.toLowerCase().startsWith("content-length:")) {
                    length = Integer.parseInt(line.substring(15).strip());
                }
            }
            char[] body = new char[length];
            assertThat(in.read(body)).isEqualTo(length);
            assertThat(new String(body)).isEqualTo("ready\n");
        }
    }

    @Test
    void oversizedBodiesAreRefused() throws Exception {
        var big = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.address().getPort() + "/echo"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[128 * 1024])).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(big.statusCode()).isEqualTo(413);
    }

    @Test
    void aBusyPortFailsAtConstructionNamingTheEndpoint() {
        assertThatThrownBy(() -> new HttpEndpointServer("readiness", server.address(), group, handlers,
                HttpEndpointServer.DEFAULTS)).isInstanceOf(BindException.class).hasMessageContaining("readiness endpoint");
    }
}
