package dev.tessera.agent.warmup;

import dev.tessera.agent.config.AgentConfig;
import dev.tessera.agent.connection.ConnectionListener;
import dev.tessera.agent.connection.JsonAccessLog;
import dev.tessera.agent.connection.ProxyCounters;
import dev.tessera.agent.metrics.AgentMetrics;
import dev.tessera.agent.policy.PolicyEnforcer;
import dev.tessera.agent.policy.PolicyMetrics;
import dev.tessera.agent.tls.TlsContexts;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.agent.identity.CertifiedKey;
import dev.tessera.agent.identity.IdentityProvider;
import dev.tessera.agent.inbound.HboneServer;
import dev.tessera.agent.netty.EventLoops;
import dev.tessera.agent.outbound.OutboundProxy;
import dev.tessera.agent.state.StateStore;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.http.HttpEndpointServer;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Workload;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the agent's own data path once over loopback before the agent takes any pod's traffic, so the JIT
 * has compiled the hot paths (accept, route, TLS 1.3 handshake and records, HTTP/2 CONNECT and DATA, the
 * relay both ways, half-close) before a pod depends on them. Without it the first seconds after every start
 * and upgrade ran in the interpreter: 3-40x slower (issue 10).
 *
 * <p>A private mesh of two nodes on 127.0.0.0/8 (never a real address, never captured: the agent's own
 * network namespace is not enrolled), with its own throw-away CA and identities, a real {@link OutboundProxy}
 * and {@link HboneServer} on their own event loops, and an echo server. Clients connect as the private
 * client pod would after the kernel redirect; each connection does several request/response round trips
 * (the keep-alive path), every tenth one a bulk transfer. Nothing of it is counted in the agent's metrics
 * or access log. It runs before the agent asks for the running agent's listeners, so during an upgrade the
 * old agent keeps serving while the new one warms up.
 */
public final class DataPathWarmUp {

    private static final Logger log = LoggerFactory.getLogger(DataPathWarmUp.class);
    private static final String TD = "warmup.tessera.invalid";
    private static final SpiffeId CLIENT = new SpiffeId(TD, "warmup", "client");
    private static final SpiffeId SERVER = new SpiffeId(TD, "warmup", "server");
    private static final String NODE_A = "127.0.0.2";
    private static final String NODE_B = "127.0.0.3";
    private static final String CLIENT_IP = "127.0.1.1";
    private static final String SERVER_IP = "127.0.1.2";
    private static final int REQUEST_BYTES = 1024;
    private static final int BULK_BYTES = 256 * 1024;
    /** Client threads: several connections in flight, as pods make them (the event loop serves many per wake-up). */
    private static final int CLIENTS = 4;
    /** The JIT counts as settled when it compiled for at most this share of the last window. */
    private static final double SETTLED_COMPILE_SHARE = 0.05;
    private static final long WINDOW_MILLIS = 500;
    private static final long MIN_MILLIS = 1_000;
    /**
     * Round trips before the JIT may count as settled: C2 compiles a method after ~15,000 invocations and loop
     * iterations (Tier4CompileThreshold), the relay's per-read methods run about once per round trip and
     * side. Below this a quiet compiler only means the hot methods have not reached C2's threshold yet.
     */
    static final long MIN_ROUND_TRIPS = 30_000;

    /** What one warm-up did. */
    /**
     * What one warm-up did.
     *
     * @param settled whether it ended because the JIT had settled (else: its connection limit or its budget)
     */
    public record Result(int connections, int failed, long millis, boolean settled) {}

    private DataPathWarmUp() {}

    /**
     * Runs up to {@code connections} connections through a private outbound proxy and HBONE server, for at
     * most {@code budget}. Never throws: a warm-up that cannot run (no loopback addresses, no free port) is
     * skipped with a log line; the agent works the same, only colder.
     */
    public static Result run(int connections, Duration budget) {
        if (connections <= 0) {
            return new Result(0, 0, 0, false);
        }
        long t0 = System.nanoTime();
        try {
            return doRun(connections, budget, t0);
        } catch (Exception | LinkageError e) {
            log.warn("data path warm-up skipped: {}", e.toString());
            return new Result(0, 0, (System.nanoTime() - t0) / 1_000_000, false);
        }
    }

    private static Result doRun(int connections, Duration budget, long t0) throws Exception {
        var ca = CertificateAuthority.generate(TD);
        var ids = new FixedIdentities(ca, CLIENT, SERVER);
        var state = new StateStore();
        state.update(new MeshSnapshot(1,
                List.of(new NodeInfo("warmup-a", InetAddress.getByName(NODE_A), "127.0.1.0/28"),
                        new NodeInfo("warmup-b", InetAddress.getByName(NODE_B), "127.0.1.0/28")),
                List.of(workload("client", "warmup-a", CLIENT_IP, CLIENT),
                        workload("server", "warmup-b", SERVER_IP, SERVER))));
        int outboundPort = freePort(NODE_A);
        int inboundPort = freePort(NODE_A, NODE_B);
        AgentConfig a = config("warmup-a", NODE_A, outboundPort, inboundPort);
        AgentConfig b = config("warmup-b", NODE_B, outboundPort, inboundPort);
        Map<InetSocketAddress, InetSocketAddress> originalDst = new ConcurrentHashMap<>();
        // As many event loops as the agent's own data path: with one, every hop of a connection runs on the
        // same thread and the JIT must see those branches (in-loop writes, no task hand-off), not others.
        try (EventLoops loops = EventLoops.create(EventLoops.dataPathThreads())) {
            try {
                probeAndScrape(loops);
            } catch (IOException | RuntimeException e) { // the data path's warm-up still runs
                log.debug("warm-up of the HTTP endpoints failed: {}", e.toString());
            }
            loadLateClasses();
            Channel echo = echoServer(loops, SERVER_IP);
            // The same kinds of listener and gate as the agent's own data path (DataPath), writing to a private
            // registry and a discarding access log: the JIT then compiles the call sites for the types the
            // real connections meet instead of a no-op it would have to throw away at the first pod connection.
            var metrics = new AgentMetrics();
            ConnectionListener listener = ConnectionListener.of(new ProxyCounters(), metrics.connections(),
                    JsonAccessLog.discarding(a.logFormat()));
            var gate = new PolicyEnforcer(state, new PolicyMetrics(metrics.registry()));
            gate.update(PolicySet.EMPTY);
            var tls = new TlsContexts(ids);
            var proxy = new OutboundProxy(a, state, tls, c -> Optional.ofNullable(originalDst.remove(c)),
                    listener, loops);
            var hbone = new HboneServer(b, state, tls, listener, loops);
            proxy.useInboundGate(gate);
            hbone.useInboundGate(gate);
            try {
                proxy.start();
                hbone.start();
                proxy.acceptConnections();
                hbone.acceptConnections();
                var target = (InetSocketAddress) echo.localAddress();
                long deadline = t0 + budget.toNanos();
                var done = new AtomicInteger();
                var failed = new AtomicInteger();
                var stop = new java.util.concurrent.atomic.AtomicBoolean();
                var roundTrips = new java.util.concurrent.atomic.AtomicLong();
                Thread[] clients = new Thread[CLIENTS];
                for (int t = 0; t < clients.length; t++) {
                    clients[t] = new Thread(() -> {
                        byte[] buf = new byte[BULK_BYTES];
                        while (!stop.get() && System.nanoTime() < deadline) {
                            int n = done.getAndIncrement();
                            if (n >= connections) {
                                return;
                            }
                            try {
                                roundTrips.addAndGet(oneConnection(proxy.localAddress(), target, originalDst, buf, n));
                            } catch (IOException | RuntimeException e) {
                                if (failed.incrementAndGet() == 1) {
                                    log.debug("warm-up connection failed: {}", e.toString());
                                }
                            }
                        }
                    }, "tessera-warmup-" + t);
                    clients[t].setDaemon(true);
                    clients[t].start();
                }
                boolean settled = awaitSettledJit(clients, deadline, roundTrips);
                stop.set(true);
                for (Thread c : clients) {
                    c.join(Math.max(1, budget.toMillis()));
                }
                int ran = Math.min(done.get(), connections);
                return new Result(ran, failed.get(), (System.nanoTime() - t0) / 1_000_000, settled);
            } finally {
                proxy.close();
                hbone.close();
                echo.close().syncUninterruptibly();
            }
        }
    }

    /**
     * Returns once the clients finished or the JIT settled: after at least {@link #MIN_MILLIS} and
     * {@link #MIN_ROUND_TRIPS}, the compiler
     * threads spent at most {@link #SETTLED_COMPILE_SHARE} of the last window compiling (the hot paths are
     * compiled by C2; what is left is rare code). Without a compilation bean (a JVM without a JIT), the
     * clients run to their limit.
     */
    private static boolean awaitSettledJit(Thread[] clients, long deadline,
            java.util.concurrent.atomic.AtomicLong roundTrips) throws InterruptedException {
        var jit = java.lang.management.ManagementFactory.getCompilationMXBean();
        boolean timed = jit != null && jit.isCompilationTimeMonitoringSupported();
        long start = System.nanoTime();
        long lastCompile = timed ? jit.getTotalCompilationTime() : 0;
        while (System.nanoTime() < deadline) {
            boolean alive = false;
            for (Thread c : clients) {
                alive |= c.isAlive();
            }
            if (!alive) {
                return false;
            }
            Thread.sleep(WINDOW_MILLIS);
            if (timed) {
                long compile = jit.getTotalCompilationTime();
                boolean settled = compile - lastCompile <= SETTLED_COMPILE_SHARE * WINDOW_MILLIS;
                lastCompile = compile;
                if (settled && System.nanoTime() - start >= MIN_MILLIS * 1_000_000
                        && roundTrips.get() >= MIN_ROUND_TRIPS) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Netty classes the agent loads only after the warm-up, found with {@code -XX:+LogCompilation} after
     * {@code restart-agent} ({@code dependency_failed}: each one's loading threw away compiled code of the tunnel):
     * a failed write's future (the warm-up's own shutdown, then any connection a pod resets mid-write; it invalidated
     * the C2 code of {@code DefaultHttp2ConnectionDecoder$FrameReadListener.onDataRead}), the channel-group future's
     * executor, the listener handoff's Unix socket channel (35 methods), the controller session's encoder and the
     * decoders' signal. Loading and initialising them here (C2's class-hierarchy analysis ignores a class that is
     * loaded but not linked), before the tunnel's code is compiled, is enough: the JIT then never assumes they do not
     * exist.
     */
    static final List<String> LATE_CLASSES = List.of(
            "io.netty.channel.FailedChannelFuture",
            "io.netty.util.concurrent.ImmediateEventExecutor",
            "io.netty.channel.epoll.EpollServerDomainSocketChannel",
            "io.netty.channel.epoll.EpollDomainSocketChannel",
            "io.netty.handler.codec.MessageToByteEncoder",
            "io.netty.util.Signal");

    private static void loadLateClasses() {
        for (String name : LATE_CLASSES) {
            try {
                Class.forName(name, true, DataPathWarmUp.class.getClassLoader());
            } catch (ClassNotFoundException | LinkageError e) { // another Netty version: only colder
                log.debug("warm-up: class {} not loaded: {}", name, e.toString());
            }
        }
    }

    /**
     * Answers a few HTTP/1.1 requests on a private {@link HttpEndpointServer} (the server of the agent's probes,
     * scrapes and admin API) before the data path runs. Its pipeline brings Netty classes the tunnel never loads
     * ({@code HttpServerCodec}'s combined handler has its own {@code ChannelHandlerContext}); loaded only at the
     * first probe after the warm-up, they invalidated what C2 had compiled on the assumption that the tunnel's
     * context class was the only one: 19 C2 and 65 C1 methods of the relay, TLS and HTTP/2 path thrown away in
     * the second after readiness, and recompiled under the pods' first traffic (issue 10,
     * {@code -XX:+LogCompilation}: {@code dependency_failed unique_concrete_method ChannelHandlerContext}).
     */
    private static void probeAndScrape(EventLoops loops) throws IOException {
        var handlers = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "tessera-warmup-http");
            t.setDaemon(true);
            return t;
        });
        try (var http = new HttpEndpointServer("warm-up", new InetSocketAddress(NODE_A, 0), loops.worker(),
                loops.serverChannelClass(), handlers, HttpEndpointServer.DEFAULTS)) {
            http.route("/healthz/ready", req -> HttpEndpointServer.Response.text(200, "ready\n"));
            http.start();
            for (int connection = 0; connection < 2; connection++) {
                try (Socket s = new Socket()) {
                    s.setSoTimeout(5_000);
                    s.connect(http.address(), 2_000);
                    var in = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(),
                            java.nio.charset.StandardCharsets.US_ASCII));
                    for (int request = 0; request < 3; request++) {
                        boolean last = request == 2;
                        s.getOutputStream().write(("GET " + (request == 1 ? "/metrics" : "/healthz/ready")
                                + " HTTP/1.1\r\nHost: warm-up\r\n" + (last ? "Connection: close\r\n" : "") + "\r\n")
                                .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                        int length = -1;
                        for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {
                            if (line.regionMatches(true, 0, "content-length:", 0, 15)) {
                                length = Integer.parseInt(line.substring(15).trim());
                            }
                        }
                        if (length < 0 || in.skip(length) != length) {
                            throw new IOException("warm-up HTTP endpoint: no complete response to request " + request);
                        }
                    }
                }
            }
        } finally {
            handlers.shutdownNow();
        }
    }

    /**
     * Connection {@code n} of the mix: every eighth a bulk transfer, three in eight one request (the
     * new-connection path: accept, route, CONNECT, dial, close), the other half 100 round trips on one
     * connection (the keep-alive path).
     */
    private static int oneConnection(InetSocketAddress proxy, InetSocketAddress target,
            Map<InetSocketAddress, InetSocketAddress> originalDst, byte[] buf, int n) throws IOException {
        int kind = n % 8;
        boolean bulk = kind == 0;
        int roundTrips = kind == 0 ? 4 : kind < 4 ? 1 : 100;
        try (Socket s = new Socket()) {
            s.setSoTimeout(5_000);
            s.setTcpNoDelay(true);
            s.bind(new InetSocketAddress(CLIENT_IP, 0));
            originalDst.put((InetSocketAddress) s.getLocalSocketAddress(), target); // what the kernel records
            s.connect(proxy, 2_000);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            for (int i = 0; i < roundTrips; i++) {
                out.write(buf, 0, REQUEST_BYTES);
                readFully(in, buf, REQUEST_BYTES);
            }
            if (bulk) {
                out.write(buf, 0, BULK_BYTES);
                readFully(in, buf, BULK_BYTES);
            }
            s.shutdownOutput();
            if (in.read() != -1) {
                throw new IOException("warm-up echo sent more than it was sent");
            }
        }
        return roundTrips;
    }

    private static void readFully(InputStream in, byte[] buf, int n) throws IOException {
        int at = 0;
        while (at < n) {
            int r = in.read(buf, at, n - at);
            if (r < 0) {
                throw new IOException("warm-up echo closed after " + at + " of " + n + " bytes");
            }
            at += r;
        }
    }

    /** Echoes every byte; closes its side when the client half-closes. */
    private static Channel echoServer(EventLoops loops, String ip) throws InterruptedException {
        return new ServerBootstrap().group(loops.boss(), loops.worker()).channel(loops.serverChannelClass())
                .childOption(io.netty.channel.ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ctx.write(msg);
                            }

                            @Override
                            public void channelReadComplete(ChannelHandlerContext ctx) {
                                ctx.flush();
                            }

                            @Override
                            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                                if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent) {
                                    ctx.close();
                                }
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                ctx.close();
                            }
                        });
                    }
                }).bind(ip, 0).sync().channel();
    }

    private static AgentConfig config(String node, String ip, int outbound, int inbound) {
        return AgentConfig.parse("--node", node, "--node-ip", ip, "--trust-domain", TD, "--netns-source", "cri",
                "--controller", "127.0.0.1:1", "--outbound-port", "" + outbound, "--inbound-port", "" + inbound,
                "--handoff-socket", "none");
    }

    private static Workload workload(String name, String node, String ip, SpiffeId id) throws IOException {
        return new Workload(id.namespace(), name, node, InetAddress.getByName(ip), id.serviceAccount(),
                Map.of("app", name), true, id);
    }

    /** A port free on every one of {@code ips} right now. */
    private static int freePort(String... ips) throws IOException {
        for (int attempt = 0; attempt < 20; attempt++) {
            int port;
            try (ServerSocket first = new ServerSocket(0, 1, InetAddress.getByName(ips[0]))) {
                port = first.getLocalPort();
            }
            boolean free = true;
            for (String other : ips) {
                try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getByName(other))) {
                    s.setReuseAddress(true);
                } catch (IOException e) {
                    free = false;
                    break;
                }
            }
            if (free) {
                return port;
            }
        }
        throw new IOException("no port free on " + String.join(", ", ips));
    }

    /** Certificates for the warm-up's two identities from its own CA. */
    private static final class FixedIdentities implements IdentityProvider {
        private final Map<SpiffeId, CertifiedKey> keys = new ConcurrentHashMap<>();
        private final List<X509Certificate> bundle;

        FixedIdentities(CertificateAuthority ca, SpiffeId... ids) {
            bundle = List.of(ca.certificate());
            for (SpiffeId id : ids) {
                KeyPair kp = CertificateAuthority.newKeyPair();
                X509Certificate cert = ca.sign(CertificateAuthority.csr(kp, id), id, Duration.ofHours(1));
                keys.put(id, new CertifiedKey(id, kp.getPrivate(), List.of(cert)));
            }
        }

        @Override
        public Optional<CertifiedKey> certificate(SpiffeId id) {
            return Optional.ofNullable(keys.get(id));
        }

        @Override
        public List<X509Certificate> trustBundle() {
            return bundle;
        }
    }
}
