// Controller scale benchmark for bench/scale.sh: 1,000 simulated agents on one controller.
// Compiled as the bench module; runs with the built agent jar on the class path (it brings Netty, the wire
// protocol of dev.tessera.api.push and the agent's real ControllerClient):
//   java -cp node-agent/target/tessera-node-agent.jar:bench/target/classes dev.tessera.bench.ScaleBench gen DIR NODES PODS_PER_NODE NAMESPACES
//   java -cp ... dev.tessera.bench.ScaleBench run DIR PORT METRICS_PORT CONTROLLER_PID CONTROLLER_LOG CHANGES FULL OUT
//
// gen writes a local-mode cluster (Kubernetes manifests, one pods file per node), the agents' token file and
// a CA. run connects one simulated agent per node (FULL of them are the agent's real ControllerClient, which
// decodes and applies every frame; the others are ScaleBench's light client, see LightAgent), measures the
// first full sync, then edits one pod per change by rewriting one manifest file and measures how long each
// change takes to reach every agent. It prints a Markdown section to OUT.
package dev.tessera.bench;

import dev.tessera.agent.config.ControllerAddress;
import dev.tessera.agent.control.ControllerClient;
import dev.tessera.agent.netty.EventLoops;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.push.FrameEncoder;
import dev.tessera.api.push.FrameType;
import dev.tessera.api.push.Frames;
import dev.tessera.api.push.Message;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.text.SimpleDateFormat;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class ScaleBench {

    public static void main(String[] a) {
        try {
            run(a);
        } catch (Exception e) {
            e.printStackTrace();
            System.exit(1); // Netty's and the clients' threads would keep the JVM alive
        }
        System.exit(0);
    }

    static void run(String[] a) throws Exception {
        switch (a[0]) {
            case "gen" -> Cluster.generate(Path.of(a[1]), Integer.parseInt(a[2]), Integer.parseInt(a[3]),
                    Integer.parseInt(a[4]));
            case "run" -> new Run(Path.of(a[1]), Integer.parseInt(a[2]), Integer.parseInt(a[3]), Long.parseLong(a[4]),
                    Path.of(a[5]), Integer.parseInt(a[6]), Integer.parseInt(a[7]), Path.of(a[8])).run();
            default -> throw new IllegalArgumentException("mode: " + a[0] + " (expected: gen | run)");
        }
    }

    static void log(String fmt, Object... args) {
        System.out.printf("[scale %tT] %s%n", System.currentTimeMillis(), String.format(Locale.ROOT, fmt, args));
    }
}

/**
 * The generated cluster. Node i (0-based) is {@code node-NNNN} with InternalIP 198.19.128.0 + i + 1 and pod CIDR
 * 198.18.0.0 + 64 i /26 (1,000 nodes fill 198.18.0.0/16 below the local service CIDR 198.19.0.0/20); its pods
 * get .2, .3, ... Pods spread over the namespaces round-robin; each namespace has 8 apps (one service account
 * each) of which 4 have a Service; 9 namespaces in 10 are enrolled (ambient). The model is kept in memory so
 * {@link #rewrite} can produce a node's file again after an edit.
 */
final class Cluster {
    static final int APPS = 8;
    static final int SERVICES_PER_NAMESPACE = 4;

    /** One pod; mutable: the benchmark edits pods. */
    static final class Pod {
        final String namespace;
        final String name;
        final int app;
        final int file; // the node file it is written in
        int node;
        int offset; // address offset inside its node's pod CIDR
        int version = 1;

        Pod(String namespace, String name, int app, int file, int node, int offset) {
            this.namespace = namespace;
            this.name = name;
            this.app = app;
            this.file = file;
            this.node = node;
            this.offset = offset;
        }
    }

    final Path dir;
    final int nodes;
    final int namespaces;
    final List<List<Pod>> files = new ArrayList<>();
    final int[] nextOffset;

    Cluster(Path dir, int nodes, int podsPerNode, int namespaces) {
        this.dir = dir;
        this.nodes = nodes;
        this.namespaces = namespaces;
        this.nextOffset = new int[nodes];
        int g = 0;
        for (int n = 0; n < nodes; n++) {
            var pods = new ArrayList<Pod>();
            for (int j = 0; j < podsPerNode; j++, g++) {
                int ns = g % namespaces;
                int app = (g / namespaces) % APPS;
                pods.add(new Pod(namespace(ns), "app-" + app + "-" + node(n) + "-" + j, app, n, n, 2 + j));
            }
            nextOffset[n] = 2 + podsPerNode;
            files.add(pods);
        }
    }

    static String node(int i) {
        return String.format(Locale.ROOT, "node-%04d", i + 1);
    }

    static String namespace(int i) {
        return String.format(Locale.ROOT, "ns-%03d", i);
    }

    static String nodeIp(int i) {
        int v = (198 << 24) | (19 << 16) | (128 << 8);
        return ip(v + i + 1);
    }

    static int cidrBase(int i) {
        return ((198 << 24) | (18 << 16)) + 64 * i;
    }

    static String ip(int v) {
        return ((v >>> 24) & 255) + "." + ((v >>> 16) & 255) + "." + ((v >>> 8) & 255) + "." + (v & 255);
    }

    static Path manifests(Path dir) {
        return dir.resolve("cluster");
    }

    static Cluster generate(Path dir, int nodes, int podsPerNode, int namespaces) throws IOException {
        if (nodes < 1 || nodes > 1024 || podsPerNode < 1 || podsPerNode > 58 || namespaces < 1 || namespaces > 999) {
            throw new IllegalArgumentException("gen: nodes 1-1024, pods per node 1-58 (a /26 each), namespaces 1-999");
        }
        long t0 = System.nanoTime();
        var c = new Cluster(dir, nodes, podsPerNode, namespaces);
        Path m = manifests(dir);
        Files.createDirectories(m);
        var sb = new StringBuilder();
        for (int i = 0; i < nodes; i++) {
            sb.append("---\napiVersion: v1\nkind: Node\nmetadata:\n  name: ").append(node(i))
                    .append("\nspec:\n  podCIDR: ").append(ip(cidrBase(i))).append("/26")
                    .append("\nstatus:\n  addresses:\n  - type: InternalIP\n    address: ").append(nodeIp(i)).append('\n');
        }
        Files.writeString(m.resolve("00-nodes.yaml"), sb);
        sb.setLength(0);
        for (int i = 0; i < namespaces; i++) {
            sb.append("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ").append(namespace(i)).append('\n');
            if (i % 10 != 0) {
                sb.append("  labels:\n    tessera.dev/dataplane-mode: ambient\n");
            }
        }
        Files.writeString(m.resolve("01-namespaces.yaml"), sb);
        sb.setLength(0);
        for (int i = 0; i < namespaces; i++) {
            for (int app = 0; app < SERVICES_PER_NAMESPACE; app++) {
                sb.append("---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app-").append(app)
                        .append("\n  namespace: ").append(namespace(i))
                        .append("\nspec:\n  selector:\n    app: app-").append(app)
                        .append("\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n");
            }
        }
        Files.writeString(m.resolve("02-services.yaml"), sb);
        for (int i = 0; i < nodes; i++) {
            c.rewrite(i);
        }
        sb.setLength(0);
        var random = new java.security.SecureRandom();
        for (int i = 0; i < nodes; i++) {
            byte[] t = new byte[16];
            random.nextBytes(t);
            String token = java.util.HexFormat.of().formatHex(t);
            sb.append(token).append(',').append(node(i)).append('\n');
            Files.createDirectories(dir.resolve("tokens"));
            Files.writeString(dir.resolve("tokens").resolve(node(i)), token + "\n");
        }
        Files.writeString(dir.resolve("tokens.csv"), sb);
        CertificateAuthority.generate("cluster.local").save(dir.resolve("ca"));
        Files.writeString(dir.resolve("params"), nodes + " " + podsPerNode + " " + namespaces + "\n");
        ScaleBench.log("generated %d nodes, %d pods, %d namespaces, %d services in %s (%d ms)", nodes,
                nodes * podsPerNode, namespaces, namespaces * SERVICES_PER_NAMESPACE, m,
                (System.nanoTime() - t0) / 1_000_000);
        return c;
    }

    /** Loads the in-memory model of a generated cluster (same parameters as {@link #generate}). */
    static Cluster load(Path dir) throws IOException {
        String[] p = Files.readString(dir.resolve("params")).strip().split(" ");
        return new Cluster(dir, Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2]));
    }

    /** Writes node file {@code i} atomically (temporary hidden file, then rename), as an editor would. */
    void rewrite(int i) throws IOException {
        var sb = new StringBuilder(64 * 1024);
        for (Pod p : files.get(i)) {
            sb.append("---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: ").append(p.name)
                    .append("\n  namespace: ").append(p.namespace)
                    .append("\n  labels:\n    app: app-").append(p.app)
                    .append("\n    version: v").append(p.version)
                    .append("\n    pod-template-hash: ").append(Integer.toHexString((p.app * 31 + p.version) * 0x9e3779b1))
                    .append("\nspec:\n  nodeName: ").append(node(p.node))
                    .append("\n  serviceAccountName: sa-app-").append(p.app)
                    .append("\n  containers:\n  - name: main\n    image: registry.example/app-").append(p.app)
                    .append(":1.").append(p.version)
                    .append("\n    ports:\n    - name: http\n      containerPort: 8080\nstatus:\n  phase: Running\n  podIP: ")
                    .append(ip(cidrBase(p.node) + p.offset)).append('\n');
        }
        Path m = manifests(dir);
        String name = String.format(Locale.ROOT, "pods-%s.yaml", node(i));
        Path tmp = m.resolve("." + name + ".tmp");
        Files.writeString(tmp, sb);
        Files.move(tmp, m.resolve(name), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}

/**
 * A simulated agent that speaks the real protocol without building the model: TLS 1.3 to the controller's
 * certificate (checked against the CA, host 127.0.0.1), HELLO with its node's token, then for each frame it
 * reads the 5-byte header and the version fields (SNAPSHOT: epoch, version; DELTA: epoch, from, to), skips the
 * rest of the payload as it streams in (no frame is buffered whole), ACKs each version once the frame's last
 * byte arrived and answers PINGs. Like the real agent it reconnects after a close, with exponential backoff and
 * full jitter (200 ms doubling to 30 s), resuming from the epoch and version it holds. The controller cannot
 * tell it from a real agent.
 */
final class LightAgent {
    final int index;
    final String node;
    final String token;
    final Sims sims;
    final Bootstrap bootstrap;
    volatile boolean stopped;
    volatile Channel channel;
    private long epoch;
    private long version = -1;
    private int attempts;

    LightAgent(int index, String node, String token, Sims sims, Bootstrap template, SslContext tls, String host, int port) {
        this.index = index;
        this.node = node;
        this.token = token;
        this.sims = sims;
        this.bootstrap = template.clone().remoteAddress(host, port).handler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast("tls", tls.newHandler(ch.alloc(), host, port))
                        .addLast("encoder", FrameEncoder.INSTANCE)
                        .addLast("agent", new Connection());
            }
        });
    }

    void connect() {
        if (stopped) {
            return;
        }
        bootstrap.connect().addListener((io.netty.channel.ChannelFutureListener) f -> {
            if (f.isSuccess()) {
                channel = f.channel();
            } else {
                sims.disconnected(index, "connect: " + f.cause());
                reconnectLater(f.channel());
            }
        });
    }

    void stop() {
        stopped = true;
        Channel ch = channel;
        if (ch != null) {
            ch.close();
        }
    }

    private void reconnectLater(Channel ch) {
        if (stopped) {
            return;
        }
        long ceiling = Math.min(30_000, 200L << Math.min(attempts++, 8));
        long delay = java.util.concurrent.ThreadLocalRandom.current().nextLong(ceiling + 1);
        ch.eventLoop().schedule(this::connect, delay, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    /** One connection's frame parsing. */
    final class Connection extends ChannelInboundHandlerAdapter {
        private final ByteBuf header = Unpooled.buffer(64);
        private int type = -1;
        private long length; // type + payload
        private int headerNeeded; // payload bytes to parse before skipping
        private long skip;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.writeAndFlush(new Message.Hello(Frames.PROTOCOL_VERSION, node, token, epoch, Math.max(0, version)));
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            header.release();
            if (!stopped) {
                sims.disconnected(index, "connection closed");
                reconnectLater(ctx.channel());
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            sims.disconnected(index, cause.toString());
            ctx.close();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf in = (ByteBuf) msg;
            try {
                while (in.isReadable()) {
                    if (type < 0) { // length + type
                        int n = Math.min(5 - header.readableBytes(), in.readableBytes());
                        header.writeBytes(in, n);
                        if (header.readableBytes() < 5) {
                            return;
                        }
                        length = header.readUnsignedInt();
                        type = header.readUnsignedByte();
                        header.clear();
                        long payload = length - 1;
                        headerNeeded = (int) Math.min(payload, snapshot(type) ? 16 : delta(type) ? 24 : 4096);
                        skip = payload - headerNeeded;
                    }
                    if (header.readableBytes() < headerNeeded) {
                        int n = Math.min(headerNeeded - header.readableBytes(), in.readableBytes());
                        header.writeBytes(in, n);
                        if (header.readableBytes() < headerNeeded) {
                            return;
                        }
                    }
                    if (skip > 0) {
                        int n = (int) Math.min(skip, in.readableBytes());
                        in.skipBytes(n);
                        skip -= n;
                        if (skip > 0) {
                            return;
                        }
                    }
                    frame(ctx);
                    type = -1;
                    header.clear();
                }
            } finally {
                in.release();
            }
        }

        /** SNAPSHOT (protocol 1-2) and NODE_SNAPSHOT (3) both start with epoch and version. */
        private static boolean snapshot(int type) {
            return type == FrameType.SNAPSHOT.code() || type == FrameType.NODE_SNAPSHOT.code();
        }

        /** DELTA (every protocol) and NODE_DELTA (3) both start with epoch, from and to. */
        private static boolean delta(int type) {
            return type == FrameType.DELTA.code() || type == FrameType.NODE_DELTA.code();
        }

        private void frame(ChannelHandlerContext ctx) {
            long now = System.nanoTime();
            if (snapshot(type)) {
                epoch = header.readLong();
                version = header.readLong();
                attempts = 0;
                sims.received(index, version, now, length + 4, true);
                ctx.writeAndFlush(new Message.Ack(version));
            } else if (delta(type)) {
                header.readLong(); // epoch
                long from = header.readLong();
                long to = header.readLong();
                if (from != version) {
                    sims.gaps.incrementAndGet();
                }
                version = to;
                attempts = 0;
                sims.received(index, version, now, length + 4, false);
                ctx.writeAndFlush(new Message.Ack(version));
            } else if (type == FrameType.PING.code()) {
                ctx.writeAndFlush(new Message.Pong(header.readLong()));
            } else if (type == FrameType.GOAWAY.code() || type == FrameType.ERROR.code()) {
                int n = header.readInt();
                sims.disconnected(index, header.readCharSequence(n, StandardCharsets.UTF_8).toString());
            }
        }
    }
}

/** Every simulated agent's state: the version it holds and when each version arrived. */
final class Sims {
    final int count;
    final AtomicLongArray version;
    final AtomicLongArray arrivedAt; // nanoTime the current version arrived
    final AtomicLongArray firstSnapshotAt;
    final AtomicLong snapshotBytes = new AtomicLong(); // the last snapshot frame any agent received
    final AtomicLongArray snapshotBytesOf; // per agent: its last snapshot frame (protocol 3: each node its own)
    final AtomicLong snapshotBytesTotal = new AtomicLong(); // every snapshot frame received, resends included
    final AtomicLong deltaBytes = new AtomicLong();
    final AtomicLong lastDeltaBytes = new AtomicLong();
    final AtomicLongArray lastDeltaBytesOf; // per agent: its last delta frame
    final AtomicInteger gaps = new AtomicInteger();
    final Map<Integer, String> errors = new ConcurrentHashMap<>(); // first disconnect reason per agent
    final Map<String, AtomicInteger> reasons = new ConcurrentHashMap<>();
    final AtomicInteger disconnects = new AtomicInteger();

    Sims(int count) {
        this.count = count;
        this.version = new AtomicLongArray(count);
        this.arrivedAt = new AtomicLongArray(count);
        this.firstSnapshotAt = new AtomicLongArray(count);
        this.snapshotBytesOf = new AtomicLongArray(count);
        this.lastDeltaBytesOf = new AtomicLongArray(count);
        for (int i = 0; i < count; i++) {
            version.set(i, -1);
        }
    }

    void received(int i, long v, long nanos, long bytes, boolean snapshot) {
        if (snapshot) {
            snapshotBytes.set(bytes);
            snapshotBytesOf.set(i, bytes);
            snapshotBytesTotal.addAndGet(bytes);
        } else {
            deltaBytes.addAndGet(bytes);
            lastDeltaBytes.set(bytes);
            lastDeltaBytesOf.set(i, bytes);
        }
        received(i, v, nanos);
    }

    /** Agent {@code i} holds version {@code v} since {@code nanos}. */
    void received(int i, long v, long nanos) {
        firstSnapshotAt.compareAndSet(i, 0, nanos);
        arrivedAt.set(i, nanos);
        version.set(i, v);
    }

    void disconnected(int i, String why) {
        errors.putIfAbsent(i, why);
        disconnects.incrementAndGet();
        reasons.computeIfAbsent(why.length() > 60 ? why.substring(0, 60) : why, k -> new AtomicInteger()).incrementAndGet();
    }

    /** "N (reason x count, ...)" or "none". */
    String disconnectSummary() {
        if (disconnects.get() == 0) {
            return "none";
        }
        var sb = new StringBuilder().append(disconnects.get()).append(" of ").append(errors.size()).append(" agents (");
        reasons.forEach((r, n) -> sb.append(r).append(" x").append(n.get()).append("; "));
        sb.setLength(sb.length() - 2);
        return sb.append(')').toString();
    }

    /** How many agents hold a version accepted by {@code ok}. */
    int count(LongPredicate ok) {
        int n = 0;
        for (int i = 0; i < count; i++) {
            if (ok.test(version.get(i))) {
                n++;
            }
        }
        return n;
    }
}

/** The measurement: connects the agents, times the first sync and each change, samples the processes. */
final class Run {
    private static final Pattern LOG_LINE = Pattern.compile("^(\\d{4}-\\d\\d-\\d\\dT\\S+) .*?(published version (\\d+)|: reloaded: )");

    final Path dir;
    final int port;
    final int metricsPort;
    final long pid;
    final Path controllerLog;
    final int changes;
    final int full;
    final Path out;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    final Map<Long, Long> publishedAt = new ConcurrentHashMap<>(); // version -> wall ms of the controller's log line
    final List<Long> reloadedAt = new ArrayList<>(); // wall ms of the watcher's "reloaded" lines
    long logPosition;
    volatile boolean sampling = true;
    volatile long controllerRssMax;
    volatile long simRssMax;

    Run(Path dir, int port, int metricsPort, long pid, Path controllerLog, int changes, int full, Path out) {
        this.dir = dir;
        this.port = port;
        this.metricsPort = metricsPort;
        this.pid = pid;
        this.controllerLog = controllerLog;
        this.changes = changes;
        this.full = full;
        this.out = out;
    }

    void run() throws Exception {
        Cluster cluster = Cluster.load(dir);
        int n = cluster.nodes;
        Path caFile = dir.resolve("ca").resolve("ca.crt");
        awaitMetric("tessera_controller_mesh_version", v -> v >= 1, Duration.ofMinutes(5));
        tailLog();
        var report = new Report();
        report.facts();
        report.put("load.start", Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
        report.put("namespaces", cluster.namespaces + " namespaces, " + cluster.namespaces * Cluster.SERVICES_PER_NAMESPACE
                + " Services");
        Long firstPublish = publishedAt.get(1L);
        var started = ProcessHandle.of(pid).flatMap(h -> h.info().startInstant());
        report.put("controller.startup", firstPublish == null || started.isEmpty() ? "?"
                : Long.toString(firstPublish - started.get().toEpochMilli()));
        report.put("controller.rss.before", kb(status(pid, "VmRSS")));
        report.put("controller.heap.before", heapInfo());

        Thread sampler = new Thread(this::sample, "sampler");
        sampler.setDaemon(true);
        sampler.start();
        Process jstat = new ProcessBuilder("jstat", "-gc", Long.toString(pid), "250").redirectErrorStream(true).start();
        var jstatLines = new ArrayList<String>();
        Thread jstatReader = new Thread(() -> {
            try (var r = jstat.inputReader()) {
                String l;
                while ((l = r.readLine()) != null) {
                    synchronized (jstatLines) {
                        jstatLines.add(l);
                    }
                }
            } catch (IOException ignored) {
                // process ended
            }
        }, "jstat");
        jstatReader.setDaemon(true);
        jstatReader.start();

        SslContext tls = SslContextBuilder.forClient()
                .sslProvider(io.netty.handler.ssl.OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK).protocols("TLSv1.3")
                .trustManager(CertificateAuthority.Pem.readCertificates(Files.readString(caFile)).toArray(X509Certificate[]::new))
                .endpointIdentificationAlgorithm("HTTPS").build();
        var sims = new Sims(n);
        EventLoops loops = EventLoops.create(2);
        var clients = new ArrayList<ControllerClient>();
        var lights = new ArrayList<LightAgent>();
        var template = new Bootstrap().group(loops.worker()).channel(loops.socketChannelClass())
                .option(ChannelOption.TCP_NODELAY, true).option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 30_000);
        long cpuC0 = cpuMillis(pid);
        long cpuS0 = simCpuMillis();
        long t0 = System.nanoTime();
        // The full-decoding agents are spread over the node list (the first, then every n/full-th node).
        var fullIndexes = new java.util.HashSet<Integer>();
        for (int k = 0; k < full; k++) {
            fullIndexes.add((int) ((long) k * n / full));
        }
        for (int i = 0; i < n; i++) {
            String node = Cluster.node(i);
            Path tokenFile = dir.resolve("tokens").resolve(node);
            if (fullIndexes.contains(i)) {
                final int idx = i;
                var settings = ControllerClient.Settings.of(new ControllerAddress("127.0.0.1", port), node, tokenFile, caFile);
                clients.add(new ControllerClient(settings, loops, c -> sims.received(idx, c.version(), System.nanoTime()),
                        b -> { }).start());
                continue;
            }
            var agent = new LightAgent(i, node, Files.readString(tokenFile).strip(), sims, template, tls, "127.0.0.1", port);
            lights.add(agent);
            agent.connect();
        }
        long dispatched = System.nanoTime();
        ScaleBench.log("%d agents connecting (%d full-decoding ControllerClients, %d light)", n, full, n - full);
        long v1 = metric("tessera_controller_mesh_version");
        awaitAgents(sims, v -> v >= v1, Duration.ofMinutes(10), "the first snapshot");
        long[] first = new long[n];
        for (int i = 0; i < n; i++) {
            first[i] = sims.firstSnapshotAt.get(i) - t0;
        }
        long synced = System.nanoTime();
        awaitMetric("tessera_controller_connected_agents", v -> v == n, Duration.ofMinutes(2));
        awaitMetric("tessera_controller_agents_behind", v -> v == 0, Duration.ofMinutes(2));
        long acked = System.nanoTime();
        long cpuC1 = cpuMillis(pid);
        long cpuS1 = simCpuMillis();
        long[] perAgent = nonZero(sims.snapshotBytesOf);
        double meanSnapshot = perAgent.length == 0 ? 0 : java.util.Arrays.stream(perAgent).average().orElse(0);
        report.put("sync.snapshot.bytes", String.format(Locale.ROOT, "%.2f / %.2f", meanSnapshot / 1e6,
                (perAgent.length == 0 ? 0 : max(perAgent)) / 1e6));
        report.put("sync.dispatch", ms(dispatched - t0));
        report.put("sync.first", ms(min(first)));
        report.put("sync.p50", ms(percentile(first, 50)));
        report.put("sync.all", ms(max(first)));
        report.put("sync.full", ms(maxOf(first, fullIndexes)));
        report.put("sync.acked", ms(acked - t0));
        report.put("sync.controller.counters", "connections " + metricSeries("tessera_controller_push_connections_total")
                + ", snapshots sent " + metricSeries("tessera_controller_push_frames_total{type=\"snapshot\"")
                + ", refused " + metricSeries("tessera_controller_push_rejected_total"));
        report.put("sync.cpu.controller", secs(cpuC1 - cpuC0));
        report.put("sync.cpu.sim", secs(cpuS1 - cpuS0));
        report.put("sync.rss.peak", mb(controllerRssMax));
        report.put("sync.sim.rss.peak", mb(simRssMax));
        report.put("sync.gbytes", String.format(Locale.ROOT, "%.2f (%.2f with resends after disconnects)",
                meanSnapshot * n / 1e9, (sims.snapshotBytesTotal.get() + meanSnapshot * full) / 1e9));
        ScaleBench.log("all %d agents hold version %d: last snapshot at %s ms, all ACKs seen at %s ms", n, v1,
                ms(max(first)), ms(acked - t0));

        Thread.sleep(5000);
        report.put("idle.rss", kb(status(pid, "VmRSS")));
        report.put("idle.heap", heapInfo());
        jcmd("GC.run");
        report.put("idle.heap.live", heapInfo());
        report.put("idle.rss.afterGc", kb(status(pid, "VmRSS")));
        ScaleBench.log("idle: RSS %s MB, heap %s, live after GC %s", report.get("idle.rss"), report.get("idle.heap"),
                report.get("idle.heap.live"));

        // Changes: one pod per change; 4 in 5 change a label (a new pod-template-hash and image tag, as a rollout
        // would), 1 in 5 move the pod to another node with a new address.
        var random = new Random(42);
        long[] total = new long[changes];
        long[] firstAgent = new long[changes];
        long[] fullTotal = new long[changes];
        long[] publish = new long[changes];
        long[] fanOut = new long[changes];
        long[] reload = new long[changes];
        long[] ackAll = new long[changes];
        int extraVersions = 0;
        long cpuC2 = cpuMillis(pid);
        long cpuS2 = simCpuMillis();
        long version = v1;
        for (int k = 0; k < changes; k++) {
            int file = random.nextInt(n);
            Cluster.Pod pod = cluster.files.get(file).get(random.nextInt(cluster.files.get(file).size()));
            boolean move = k % 5 == 4;
            if (move) {
                int to = random.nextInt(n);
                while (to == pod.node || cluster.nextOffset[to] > 62) {
                    to = random.nextInt(n);
                }
                pod.node = to;
                pod.offset = cluster.nextOffset[to]++;
            } else {
                pod.version++;
            }
            Thread.sleep(100 + random.nextInt(300)); // decorrelate from the controller's 300 ms poll
            long before = version;
            tailLog();
            int reloadsBefore = reloadedAt.size();
            long w0 = System.currentTimeMillis();
            long n0 = System.nanoTime();
            cluster.rewrite(file);
            awaitAgents(sims, v -> v > before, Duration.ofMinutes(2), "change " + k);
            long[] lat = new long[n];
            for (int i = 0; i < n; i++) {
                lat[i] = sims.arrivedAt.get(i) - n0;
            }
            awaitMetric("tessera_controller_agents_behind", v -> v == 0, Duration.ofMinutes(1));
            ackAll[k] = System.nanoTime() - n0;
            version = sims.version.get(0);
            for (int i = 0; i < n; i++) {
                if (sims.version.get(i) != version) {
                    version = Math.max(version, sims.version.get(i));
                }
            }
            extraVersions += (int) (version - before - 1);
            total[k] = max(lat);
            firstAgent[k] = min(lat);
            fullTotal[k] = maxOf(lat, fullIndexes);
            tailLog();
            Long pub = publishedAt.get(version);
            publish[k] = pub == null ? -1 : (pub - w0) * 1_000_000;
            fanOut[k] = pub == null ? -1 : total[k] - publish[k];
            reload[k] = reloadedAt.size() > reloadsBefore ? (reloadedAt.get(reloadsBefore) - w0) * 1_000_000 : -1;
            ScaleBench.log("change %d (%s %s/%s): version %d at every agent after %s ms (published at %s ms, watcher reloaded at %s ms; first agent %s ms)",
                    k, move ? "move" : "label", pod.namespace, pod.name, version, ms(total[k]), ms(publish[k]),
                    ms(reload[k]), ms(firstAgent[k]));
        }
        long cpuC3 = cpuMillis(pid);
        long cpuS3 = simCpuMillis();
        report.put("changes", Integer.toString(changes));
        report.put("changes.extraVersions", Integer.toString(extraVersions));
        report.putPercentiles("change.total", total);
        report.putPercentiles("change.first", firstAgent);
        report.putPercentiles("change.full", fullTotal);
        report.putPercentiles("change.reload", reload);
        report.putPercentiles("change.publish", publish);
        report.putPercentiles("change.fanout", fanOut);
        long[] seen = new long[changes];
        for (int k = 0; k < changes; k++) {
            seen[k] = reload[k] < 0 ? -1 : total[k] - reload[k];
        }
        report.putPercentiles("change.seen", seen);
        report.putPercentiles("change.ack", ackAll);
        long[] lastDeltas = nonZero(sims.lastDeltaBytesOf);
        report.put("change.delta.bytes", lastDeltas.length == 0 ? "-" : min(lastDeltas) + " / " + max(lastDeltas));
        report.put("change.cpu.controller", secs(cpuC3 - cpuC2));
        report.put("change.cpu.sim", secs(cpuS3 - cpuS2));
        report.put("peak.rss", kb(status(pid, "VmHWM")));
        report.put("peak.sim.rss", mb(simRssMax));
        report.put("end.heap", heapInfo());
        sampling = false;
        jstat.destroy();
        jstatReader.join(2000);
        synchronized (jstatLines) {
            report.put("peak.heap", jstatPeak(jstatLines));
        }
        lateJoiner(report, loops, caFile);
        report.put("gaps", Integer.toString(sims.gaps.get()));
        report.put("load.end", Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
        report.put("errors", sims.disconnectSummary());
        for (ControllerClient c : clients) {
            c.close();
        }
        for (LightAgent a : lights) {
            a.stop();
        }
        loops.close();
        Files.writeString(out, report.markdown(n, full, cluster));
        System.out.println(report.markdown(n, full, cluster));
    }

    /**
     * One more real ControllerClient (a second session of node-0002's agent, as after an agent restart) on the
     * idle controller: how long until its snapshot is decoded and applied, and how much heap the applied
     * state keeps (measured in this JVM after full GCs).
     */
    void lateJoiner(Report report, EventLoops loops, Path caFile) throws Exception {
        var heap = ManagementFactory.getMemoryMXBean();
        System.gc();
        System.gc();
        long before = heap.getHeapMemoryUsage().getUsed();
        var held = new java.util.concurrent.atomic.AtomicReference<dev.tessera.api.push.MeshConfig>();
        var applied = new java.util.concurrent.CountDownLatch(1);
        var settings = ControllerClient.Settings.of(new ControllerAddress("127.0.0.1", port), Cluster.node(1),
                dir.resolve("tokens").resolve(Cluster.node(1)), caFile);
        long t0 = System.nanoTime();
        var client = new ControllerClient(settings, loops, c -> {
            held.set(c);
            applied.countDown();
        }, b -> { }).start();
        if (!applied.await(2, java.util.concurrent.TimeUnit.MINUTES)) {
            throw new IllegalStateException("the late joiner got no snapshot in 2 minutes");
        }
        long took = System.nanoTime() - t0;
        client.close();
        System.gc();
        System.gc();
        long after = heap.getHeapMemoryUsage().getUsed();
        report.put("late.ms", ms(took));
        report.put("late.heap", Long.toString(Math.round((after - before) / 1048576.0)));
        report.put("late.workloads", Integer.toString(held.get().mesh().workloads().size()));
        ScaleBench.log("late joiner: %s ms to the applied snapshot (%s workloads), %s MB of heap for the state",
                report.get("late.ms"), report.get("late.workloads"), report.get("late.heap"));
    }

    void awaitAgents(Sims sims, LongPredicate ok, Duration timeout, String what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        int last = -1;
        long lastLog = System.nanoTime();
        while (true) {
            int have = sims.count(ok);
            if (have == sims.count) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(what + ": only " + have + " of " + sims.count + " agents after " + timeout);
            }
            if (System.nanoTime() - lastLog > 5_000_000_000L && have != last) {
                ScaleBench.log("%s: %d of %d agents (disconnects so far: %s)", what, have, sims.count,
                        sims.disconnectSummary());
                last = have;
                lastLog = System.nanoTime();
            }
            Thread.sleep(1);
        }
    }

    /** Samples both processes' RSS every 100 ms. */
    void sample() {
        while (sampling) {
            try {
                controllerRssMax = Math.max(controllerRssMax, status(pid, "VmRSS"));
                simRssMax = Math.max(simRssMax, status(ProcessHandle.current().pid(), "VmRSS"));
                Thread.sleep(100);
            } catch (Exception e) {
                return;
            }
        }
    }

    /** A kB field of /proc/PID/status. */
    static long status(long pid, String field) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (l.startsWith(field + ":")) {
                return Long.parseLong(l.substring(field.length() + 1).trim().split("\\s+")[0]);
            }
        }
        throw new IOException(field + " not in /proc/" + pid + "/status");
    }

    /** User + system CPU time of a process, ms (clock ticks of 10 ms). */
    static long cpuMillis(long pid) throws IOException {
        String s = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10;
    }

    static long simCpuMillis() {
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        return os.getProcessCpuTime() / 1_000_000;
    }

    String jcmd(String command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("jcmd", Long.toString(pid), command).redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return text;
    }

    /** "used/total MB" of the controller's heap (jcmd GC.heap_info). */
    String heapInfo() throws IOException, InterruptedException {
        Matcher m = Pattern.compile("total (\\d+)K, used (\\d+)K").matcher(jcmd("GC.heap_info"));
        return m.find() ? (Long.parseLong(m.group(2)) / 1024) + " / " + (Long.parseLong(m.group(1)) / 1024) : "?";
    }

    /** Largest heap used (S0U+S1U+EU+OU) and committed of the jstat -gc samples, MB. */
    static String jstatPeak(List<String> lines) {
        double used = 0;
        double committed = 0;
        for (String l : lines) {
            String[] f = l.trim().split("\\s+");
            if (f.length < 8 || !Character.isDigit(f[0].charAt(0))) {
                continue;
            }
            double[] x = Arrays.stream(f).limit(8).mapToDouble(Double::parseDouble).toArray();
            used = Math.max(used, x[2] + x[3] + x[5] + x[7]);
            committed = Math.max(committed, x[0] + x[1] + x[4] + x[6]);
        }
        return Math.round(used / 1024) + " / " + Math.round(committed / 1024);
    }

    long metric(String name) throws IOException, InterruptedException {
        String body = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics"))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString()).body();
        Matcher m = Pattern.compile("(?m)^" + name + "(?:\\{[^}]*\\})? (\\S+)").matcher(body);
        if (!m.find()) {
            throw new IOException(name + " not in the controller's /metrics");
        }
        return (long) Double.parseDouble(m.group(1));
    }

    /** Every series of a metric whose line starts with {@code prefix}: "labels=value, ..." or its value alone. */
    String metricSeries(String prefix) throws IOException, InterruptedException {
        String body = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics"))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString()).body();
        var out = new ArrayList<String>();
        for (String l : body.split("\n")) {
            if (l.startsWith(prefix)) {
                String series = l.substring(0, l.lastIndexOf(' '));
                String value = l.substring(l.lastIndexOf(' ') + 1).replaceAll("\\.0$", "");
                int brace = series.indexOf('{');
                out.add(brace < 0 || prefix.contains("{") ? value : series.substring(brace) + "=" + value);
            }
        }
        return out.isEmpty() ? "0" : String.join(", ", out);
    }

    void awaitMetric(String name, LongPredicate ok, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                if (ok.test(metric(name))) {
                    return;
                }
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(name + ": not as expected after " + timeout + " (now " + metric(name) + ")");
            }
            Thread.sleep(20);
        }
    }

    /** Reads the controller's new log lines: publish and reload times (wall clock, ms). */
    void tailLog() throws IOException {
        try (var f = new RandomAccessFile(controllerLog.toFile(), "r")) {
            if (f.length() <= logPosition) {
                return;
            }
            f.seek(logPosition);
            byte[] b = new byte[(int) (f.length() - logPosition)];
            f.readFully(b);
            int end = new String(b, StandardCharsets.UTF_8).lastIndexOf('\n');
            if (end < 0) {
                return;
            }
            String text = new String(b, 0, end + 1, StandardCharsets.UTF_8);
            logPosition += text.getBytes(StandardCharsets.UTF_8).length;
            var format = new SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSSZ");
            for (String l : text.split("\n")) {
                Matcher m = LOG_LINE.matcher(l);
                if (!m.find()) {
                    continue;
                }
                long at;
                try {
                    at = format.parse(m.group(1)).getTime();
                } catch (java.text.ParseException e) {
                    continue;
                }
                if (m.group(3) != null) {
                    publishedAt.put(Long.parseLong(m.group(3)), at);
                } else {
                    reloadedAt.add(at);
                }
            }
        }
    }

    static long min(long[] a) {
        return Arrays.stream(a).min().orElse(-1);
    }

    static long max(long[] a) {
        return Arrays.stream(a).max().orElse(-1);
    }

    /** The entries that are not 0 (agents that reported nothing are left out). */
    static long[] nonZero(java.util.concurrent.atomic.AtomicLongArray a) {
        return java.util.stream.IntStream.range(0, a.length()).mapToLong(a::get).filter(v -> v != 0).toArray();
    }

    static long maxOf(long[] a, java.util.Set<Integer> indexes) {
        return indexes.stream().mapToLong(i -> a[i]).max().orElse(-1);
    }

    /** Nearest-rank percentile. */
    static long percentile(long[] a, int p) {
        long[] s = a.clone();
        Arrays.sort(s);
        int rank = (int) Math.ceil(p / 100.0 * s.length);
        return s[Math.max(0, rank - 1)];
    }

    static String ms(long nanos) {
        return nanos < 0 ? "?" : String.format(Locale.ROOT, "%.0f", nanos / 1e6);
    }

    static String secs(long millis) {
        return String.format(Locale.ROOT, "%.1f", millis / 1000.0);
    }

    static String kb(long kb) {
        return Long.toString(Math.round(kb / 1024.0));
    }

    static String mb(long kb) {
        return kb(kb);
    }

    /** The figures, by key, and their Markdown rendering. */
    static final class Report {
        final Map<String, String> r = new HashMap<>();

        void put(String k, String v) {
            r.put(k, v);
        }

        String get(String k) {
            return r.getOrDefault(k, "?");
        }

        void putPercentiles(String k, long[] a) {
            put(k + ".p50", ms(percentile(a, 50)));
            put(k + ".p99", ms(percentile(a, 99)));
            put(k + ".max", ms(max(a)));
            put(k + ".min", ms(min(a)));
        }

        void facts() throws IOException {
            String cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("?");
            put("machine", Runtime.getRuntime().availableProcessors() + " cores (" + cpu + "), "
                    + Math.round(Run.status(ProcessHandle.current().pid(), "VmRSS") * 0 + memTotalGib()) + " GiB, kernel "
                    + Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip() + ", Java "
                    + System.getProperty("java.version"));
        }

        static double memTotalGib() throws IOException {
            for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (l.startsWith("MemTotal:")) {
                    return Long.parseLong(l.split("\\s+")[1]) / 1024.0 / 1024.0;
                }
            }
            return 0;
        }

        String row(String what, String... cells) {
            return "| " + what + " | " + String.join(" | ", cells) + " |\n";
        }

        String markdown(int n, int full, Cluster cluster) {
            String cmd = System.getenv().getOrDefault("SCALE_CONTROLLER_CMD", "?");
            int pods = cluster.files.stream().mapToInt(List::size).sum();
            var sb = new StringBuilder();
            sb.append("## Controller scale\n\n");
            sb.append("Produced by `bench/scale.sh` on ").append(java.time.LocalDate.now(java.time.ZoneOffset.UTC))
                    .append(" — ").append(get("machine")).append(". ")
                    .append("One controller process in local mode (").append(pods).append(" pods on ").append(n)
                    .append(" nodes, ").append(get("namespaces")).append(") and one simulator JVM with ").append(n)
                    .append(" agents (").append(full).append(" of them the agent's real `ControllerClient`, which decodes and applies every frame; ")
                    .append(n - full).append(" light clients that speak TLS 1.3, HELLO, ACK and PONG but only read frame headers and versions). ")
                    .append("Both on the same cores, over loopback; 1-minute load average ").append(get("load.start"))
                    .append(" before the agents connected (other work on the machine included), ").append(get("load.end"))
                    .append(" at the end.\n\n");
            sb.append("Controller: `").append(cmd).append("`\n\n");
            sb.append("| measurement | value |\n|---|---|\n");
            sb.append(row("controller start -> first state published (reads and converts the manifests), ms",
                    get("controller.startup")));
            sb.append(row("snapshot frame per agent (protocol 3: its own pods whole, the rest compact), mean / max, MB",
                    get("sync.snapshot.bytes")));
            sb.append(row("first full sync: all connects dispatched, ms", get("sync.dispatch")));
            sb.append(row("first full sync: first / median / last agent holds the snapshot, ms",
                    get("sync.first") + " / " + get("sync.p50") + " / " + get("sync.all")));
            sb.append(row("first full sync: slowest full-decoding agent, ms", get("sync.full")));
            sb.append(row("first full sync: controller reports every agent connected and its ACK seen, ms", get("sync.acked")));
            sb.append(row("first full sync: controller counters (push connections, snapshots sent, refused)",
                    get("sync.controller.counters")));
            sb.append(row("first full sync: bytes pushed (the agents' snapshots summed), GB", get("sync.gbytes")));
            sb.append(row("first full sync: CPU seconds, controller / simulator", get("sync.cpu.controller") + " / " + get("sync.cpu.sim")));
            sb.append(row("one pod change -> every agent holds it, p50 / p99 / max, ms (from the file write)",
                    get("change.total.p50") + " / " + get("change.total.p99") + " / " + get("change.total.max")));
            sb.append(row("  of which: file write -> watcher reloaded the folder, p50 / p99, ms",
                    get("change.reload.p50") + " / " + get("change.reload.p99")));
            sb.append(row("  of which: file write -> controller published the version, p50 / p99, ms",
                    get("change.publish.p50") + " / " + get("change.publish.p99")));
            sb.append(row("  of which: published -> every agent holds it (fan-out), p50 / p99, ms",
                    get("change.fanout.p50") + " / " + get("change.fanout.p99")));
            sb.append(row("one pod change -> every agent holds it, from the watcher's reload (the controller sees it), p50 / p99, ms",
                    get("change.seen.p50") + " / " + get("change.seen.p99")));
            sb.append(row("one pod change -> first agent holds it, p50, ms", get("change.first.p50")));
            sb.append(row("one pod change -> slowest full-decoding agent, p50 / p99, ms",
                    get("change.full.p50") + " / " + get("change.full.p99")));
            sb.append(row("one pod change -> controller sees every ACK (/metrics polled every 20 ms), p50 / p99, ms",
                    get("change.ack.p50") + " / " + get("change.ack.p99")));
            sb.append(row("delta frame of the last pod change, smallest / largest over agents, bytes", get("change.delta.bytes")));
            sb.append(row("one real agent (re)connecting to the idle controller: snapshot decoded and applied, ms",
                    get("late.ms")));
            sb.append(row("heap a real agent keeps for the applied state (" + get("late.workloads") + " workloads), MB",
                    get("late.heap")));
            sb.append(row("changes measured (versions beyond one per change)", get("changes") + " (" + get("changes.extraVersions") + ")"));
            sb.append(row("changes: CPU seconds, controller / simulator", get("change.cpu.controller") + " / " + get("change.cpu.sim")));
            sb.append(row("controller before agents: RSS MB, heap used / committed MB", get("controller.rss.before") + ", " + get("controller.heap.before")));
            sb.append(row("controller idle after sync: RSS MB, heap used / committed MB", get("idle.rss") + ", " + get("idle.heap")));
            sb.append(row("controller idle after a full GC: RSS MB, live heap / committed MB", get("idle.rss.afterGc") + ", " + get("idle.heap.live")));
            sb.append(row("controller peak: RSS (VmHWM) MB, heap used / committed MB (jstat, 250 ms)", get("peak.rss") + ", " + get("peak.heap")));
            sb.append(row("controller peak RSS during the first sync, MB", get("sync.rss.peak")));
            sb.append(row("simulator peak RSS, MB", get("peak.sim.rss")));
            sb.append(row("simulated agents' disconnects (they reconnect like the real agent) / version gaps seen",
                    get("errors") + " / " + get("gaps")));
            return sb.toString();
        }
    }
}
