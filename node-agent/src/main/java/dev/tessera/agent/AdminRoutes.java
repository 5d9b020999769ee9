package dev.tessera.agent;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.tessera.agent.identity.CertifiedKey;
import dev.tessera.common.model.MeshSnapshot;
import dev.tessera.common.model.Workload;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * The admin API (localhost:15000): JSON views of the agent's configuration, state, certificates
 * (public parts only: never a private key) and counters.
 */
final class AdminRoutes {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final NodeAgent agent;

    AdminRoutes(NodeAgent agent) {
        this.agent = agent;
    }

    Map<String, Supplier<String>> routes() {
        var routes = new LinkedHashMap<String, Supplier<String>>();
        routes.put("/config_dump", () -> json(configDump()));
        routes.put("/workloads", () -> json(workloads(agent.state().current())));
        routes.put("/certificates", () -> json(certificates()));
        routes.put("/stats", () -> json(stats()));
        routes.put("/policies", () -> json(agent.policies() == null ? Map.of()
                : agent.policies().status(agent.config().nodeName())));
        return routes;
    }

    private Map<String, Object> configDump() {
        var c = agent.config();
        var out = new LinkedHashMap<String, Object>();
        out.put("node", c.nodeName());
        out.put("nodeIp", c.nodeIp().getHostAddress());
        out.put("trustDomain", c.trustDomain());
        out.put("localCluster", String.valueOf(c.localCluster()));
        out.put("bpfPinDir", c.bpfPinDir().toString());
        out.put("meshCidrs", c.meshCidrs());
        out.put("ports", Map.of("outbound", c.outboundPort(), "inbound", c.inboundPort(), "metrics", c.metricsPort(),
                "ready", c.readyPort(), "admin", c.adminPort()));
        MeshSnapshot s = agent.state().current();
        out.put("stateVersion", s.version());
        out.put("workloads", workloads(s));
        out.put("captured", agent.enrollment() == null ? List.of() : agent.enrollment().captured());
        out.put("readiness", agent.unmetReadiness());
        return out;
    }

    private static List<Map<String, Object>> workloads(MeshSnapshot s) {
        return s.workloads().stream().sorted(java.util.Comparator.comparing(Workload::key)).map(w -> {
            var m = new LinkedHashMap<String, Object>();
            m.put("namespace", w.namespace());
            m.put("name", w.name());
            m.put("node", w.node());
            m.put("ip", w.ip().getHostAddress());
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
        return agent.certificates().certificates().values().stream().map(AdminRoutes::describe).toList();
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
        }
        if (agent.dataPath() != null) {
            out.put("connections", agent.dataPath().stats());
        }
        return out;
    }

    private static String json(Object o) {
        try {
            return JSON.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
