package dev.tessera.agent.admin;


import dev.tessera.agent.admin.HttpEndpoints;
import dev.tessera.agent.admin.LogLevels;
import dev.tessera.agent.connection.ConnectionContext;
import dev.tessera.agent.connection.RelaySession;
import dev.tessera.agent.identity.CertifiedKey;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.Workload;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * The admin API (localhost:15000): JSON views of the agent's configuration, state, certificates
 * (public parts only: never a private key) and counters.
 */
public final class AdminRoutes {

    private final AgentView agent;

    public AdminRoutes(AgentView agent) {
        this.agent = agent;
    }

    public Map<String, Supplier<String>> routes() {
        var routes = new LinkedHashMap<String, Supplier<String>>();
        routes.put("/config_dump", () -> json(configDump()));
        routes.put("/workloads", () -> json(workloads(agent.state().current())));
        routes.put("/certificates", () -> json(certificates()));
        routes.put("/stats", () -> json(stats()));
        routes.put("/policies", () -> json(agent.policies() == null ? Map.of()
                : agent.policies().status(agent.config().nodeName())));
        return routes;
    }

    /** Routes that read the request: {@code /connections} (GET) and {@code /logging} (GET, POST). */
    public void installInteractive(dev.tessera.agent.admin.HttpEndpoints http) {
        http.adminRoute("/connections", (method, query, body) -> new HttpEndpoints.AdminResponse(200,
                json(connections())));
        http.adminRoute("/logging", this::logging);
    }

    /**
     * {@code GET /logging}: every logger and its level. {@code POST /logging?level=debug[&logger=NAME]}:
     * sets the level of NAME and the loggers below it (every logger without {@code logger}).
     */
    private HttpEndpoints.AdminResponse logging(String method, String query, String body) {
        if ("POST".equals(method) || "PUT".equals(method)) {
            Map<String, String> q = query(query == null || query.isEmpty() ? body.trim() : query);
            if (!q.containsKey("level")) {
                return new HttpEndpoints.AdminResponse(400,
                        "{\"error\":\"level: missing (expected: ?level=trace|debug|info|warn|error|off[&logger=NAME])\"}");
            }
            try {
                int changed = LogLevels.set(q.getOrDefault("logger", ""), q.get("level"));
                return new HttpEndpoints.AdminResponse(200, json(Map.of("logger", q.getOrDefault("logger", ""),
                        "level", q.get("level"), "changed", changed)));
            } catch (IllegalArgumentException e) {
                return new HttpEndpoints.AdminResponse(400, json(Map.of("error", e.getMessage())));
            }
        }
        if (!"GET".equals(method)) {
            return new HttpEndpoints.AdminResponse(405, json(Map.of("error", "method: " + method
                    + " (expected: GET or POST)")));
        }
        return new HttpEndpoints.AdminResponse(200, json(Map.of("loggers", LogLevels.all())));
    }

    private static Map<String, String> query(String raw) {
        var out = new LinkedHashMap<String, String>();
        for (String part : raw.split("&")) {
            if (part.isEmpty()) {
                continue;
            }
            int eq = part.indexOf('=');
            String k = eq < 0 ? part : part.substring(0, eq);
            String v = eq < 0 ? "" : part.substring(eq + 1);
            out.put(URLDecoder.decode(k, StandardCharsets.UTF_8), URLDecoder.decode(v, StandardCharsets.UTF_8));
        }
        return out;
    }

    /** The open connections with what is known of each (addresses, workloads, identities, bytes, age). */
    private List<Map<String, Object>> connections() {
        if (agent.metrics() == null) {
            return List.of();
        }
        long now = System.nanoTime();
        return agent.metrics().connections().open().stream()
                .sorted(java.util.Comparator.comparingLong(RelaySession::startNanos))
                .map(s -> {
                    ConnectionContext c = s.context();
                    var m = new LinkedHashMap<String, Object>();
                    m.put("direction", c.direction().name().toLowerCase(java.util.Locale.ROOT));
                    m.put("route", c.route() == null ? null : c.route().name().toLowerCase(java.util.Locale.ROOT));
                    m.put("client", addr(c.client()));
                    m.put("destination", addr(c.destination()));
                    m.put("sourceWorkload", c.sourceWorkload() == null ? null : c.sourceWorkload().key());
                    m.put("sourceIdentity", c.sourceIdentity() == null ? null : c.sourceIdentity().toString());
                    m.put("destinationWorkload", c.destinationWorkload() == null ? null : c.destinationWorkload().key());
                    m.put("destinationIdentity", c.destinationIdentity() == null ? null
                            : c.destinationIdentity().toString());
                    m.put("tunnelPeer", addr(c.tunnelPeer()));
                    m.put("bytesFromSource", s.bytesFromSource());
                    m.put("bytesToSource", s.bytesToSource());
                    m.put("ageSeconds", (now - s.startNanos()) / 1_000_000_000L);
                    return (Map<String, Object>) m;
                }).toList();
    }

    private static String addr(java.net.InetSocketAddress a) {
        return dev.tessera.api.net.Addresses.format(a); // [2001:db8::1]:8080 for IPv6
    }

    private Map<String, Object> configDump() {
        var c = agent.config();
        var out = new LinkedHashMap<String, Object>();
        out.put("node", c.nodeName());
        out.put("nodeIp", c.nodeIp().getHostAddress());
        if (c.nodeIp6() != null) { // absent, not null, without --node-ip6: earlier dumps keep their shape
            out.put("nodeIp6", c.nodeIp6().getHostAddress());
        }
        out.put("trustDomain", c.trustDomain());
        out.put("localCluster", "null"); // kept for the shape of earlier dumps: the agent has no local mode any more
        out.put("controller", String.valueOf(c.controller()));
        out.put("bpfPinDir", c.bpfPinDir().toString());
        out.put("meshCidrs", c.meshCidrs());
        out.put("ports", Map.of("outbound", c.outboundPort(), "inbound", c.inboundPort(), "metrics", c.metricsPort(),
                "ready", c.readyPort(), "admin", c.adminPort()));
        MeshSnapshot s = agent.state().current();
        out.put("stateVersion", s.version());
        out.put("workloads", workloads(s));
        out.put("captured", agent.enrollment() == null ? List.of() : agent.enrollment().captured());
        out.put("readiness", agent.unmetReadiness());
        var coverage = agent.coverage() == null ? null : agent.coverage().last();
        if (coverage != null) {
            var cov = new LinkedHashMap<String, Object>();
            cov.put("expected", coverage.expected());
            cov.put("captured", coverage.captured());
            cov.put("certified", coverage.certified());
            cov.put("gap", coverage.gap());
            cov.put("uncaptured", coverage.uncaptured());
            cov.put("uncertified", coverage.uncertified());
            cov.put("checkedAt", coverage.checkedAt().toString());
            cov.put("repairs", agent.coverage().repairs());
            out.put("coverage", cov);
        } else {
            out.put("coverage", null);
        }
        return out;
    }

    private static List<Map<String, Object>> workloads(MeshSnapshot s) {
        return s.workloads().stream().sorted(java.util.Comparator.comparing(Workload::key)).map(w -> {
            var m = new LinkedHashMap<String, Object>();
            m.put("namespace", w.namespace());
            m.put("name", w.name());
            m.put("workload", w.workloadName());
            m.put("canonicalService", w.canonicalService());
            m.put("canonicalRevision", w.canonicalRevision());
            m.put("node", w.node());
            m.put("ip", dev.tessera.api.net.Addresses.format(w.ip()));
            m.put("serviceAccount", w.serviceAccount());
            m.put("meshed", w.meshed());
            m.put("identity", w.identity().toString());
            return (Map<String, Object>) m;
        }).toList();
    }

    private List<Map<String, Object>> certificates() {
        if (agent.certificates() == null) {
            return List.of();
        }
        var bundle = agent.certificates().trustBundle();
        return agent.certificates().certificates().values().stream().map(k -> {
            Map<String, Object> m = describe(k);
            var root = dev.tessera.agent.identity.CertificateManager.rootOf(k.chain(), bundle);
            m.put("root", root == null ? "unknown" : dev.tessera.agent.identity.CertificateManager.fingerprint(root));
            m.put("rootSigning", root != null && !bundle.isEmpty() && root.equals(bundle.get(0)));
            return m;
        }).toList();
    }

    private static Map<String, Object> describe(CertifiedKey k) {
        var m = new LinkedHashMap<String, Object>();
        m.put("identity", k.id().toString());
        m.put("serial", k.leaf().getSerialNumber().toString(16));
        m.put("notBefore", k.leaf().getNotBefore().toInstant().toString());
        m.put("notAfter", k.leaf().getNotAfter().toInstant().toString());
        m.put("issuer", k.leaf().getIssuerX500Principal().getName());
        m.put("chainLength", k.chain().size());
        return m;
    }

    private Map<String, Object> stats() {
        var out = new TreeMap<String, Object>();
        if (agent.redirector() != null) {
            out.put("kernel", agent.redirector().kernelCounters());
            var s = agent.redirector().stats();
            out.put("originalDestination", Map.of("lookups", s.lookups(), "misses", s.misses()));
            out.put("enrolledCookies", agent.redirector().enrolled().size());
            out.put("mapEntries", agent.redirector().occupancy());
        }
        if (agent.connectionStats() != null) {
            out.put("connections", agent.connectionStats());
        }
        if (agent.metrics() != null) {
            out.put("workloadSeries", agent.metrics().connections().seriesCount());
        }
        return out;
    }

    private static String json(Object o) {
        return dev.tessera.api.json.Json.writePretty(o);
    }
}
