package dev.tessera.cli.observe;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code tessera stat}: per workload and direction, rates over a window computed from two scrapes of
 * the agents' {@code istio_tcp_*} counters — like {@code linkerd viz stat} for TCP. A workload's
 * outbound traffic is what its node reports as {@code reporter="source"}, its inbound traffic what its
 * node reports as {@code reporter="destination"}.
 */
public final class WorkloadStats {

    private WorkloadStats() {}

    /**
     * One row.
     *
     * @param workload {@code namespace/workload}
     * @param direction {@code inbound} (served) or {@code outbound} (opened)
     * @param successRate share of connections closed in the window without an error flag; NaN without closes
     * @param connectionsPerSecond connections opened per second
     * @param active connections open at the second scrape (opened - closed since start)
     * @param readBytesPerSecond bytes per second from the client (Istio's received)
     * @param writeBytesPerSecond bytes per second to the client (Istio's sent)
     * @param mtls share of the workload's connections (since the agents started) with
     *     {@code connection_security_policy="mutual_tls"}
     */
    public record Row(String workload, String direction, double successRate, double connectionsPerSecond,
            long active, double readBytesPerSecond, double writeBytesPerSecond, double mtls) {}

    private static final class Acc {
        double opened;
        double closed;
        double closedOk;
        double read;
        double write;
        double openedMtlsTotal;
        double openedTotal;
        double closedTotal;
    }

    /** Rows from the samples of all agents at the start and end of a window of {@code seconds}. */
    public static List<Row> compute(List<PromText.Sample> before, List<PromText.Sample> after, double seconds) {
        if (!(seconds > 0)) {
            throw new IllegalArgumentException("window: " + seconds + " s (expected: > 0)");
        }
        Map<String, Acc> acc = new TreeMap<>();
        add(acc, before, -1);
        add(acc, after, +1);
        List<Row> rows = new ArrayList<>();
        for (var e : acc.entrySet()) {
            Acc a = e.getValue();
            String[] k = e.getKey().split(" ");
            rows.add(new Row(k[0], k[1], a.closed > 0 ? a.closedOk / a.closed : Double.NaN, a.opened / seconds,
                    Math.max(0, Math.round(a.openedTotal - a.closedTotal)), a.read / seconds, a.write / seconds,
                    a.openedTotal > 0 ? a.openedMtlsTotal / a.openedTotal : Double.NaN));
        }
        return rows;
    }

    private static void add(Map<String, Acc> acc, List<PromText.Sample> samples, int sign) {
        for (PromText.Sample s : samples) {
            if (!s.name().startsWith("istio_tcp_")) {
                continue;
            }
            boolean source = s.label("reporter").equals("source");
            String workload = source ? s.label("source_workload_namespace") + "/" + s.label("source_workload")
                    : s.label("destination_workload_namespace") + "/" + s.label("destination_workload");
            Acc a = acc.computeIfAbsent(workload + " " + (source ? "outbound" : "inbound"), x -> new Acc());
            double v = sign * s.value();
            switch (s.name()) {
                case "istio_tcp_connections_opened_total" -> {
                    a.opened += v;
                    if (sign > 0) {
                        a.openedTotal += s.value();
                        if (s.label("connection_security_policy").equals("mutual_tls")) {
                            a.openedMtlsTotal += s.value();
                        }
                    }
                }
                case "istio_tcp_connections_closed_total" -> {
                    a.closed += v;
                    if (s.label("response_flags").equals("-")) {
                        a.closedOk += v;
                    }
                    if (sign > 0) {
                        a.closedTotal += s.value();
                    }
                }
                case "istio_tcp_received_bytes_total" -> a.read += v;
                case "istio_tcp_sent_bytes_total" -> a.write += v;
                default -> { }
            }
        }
    }

    /** A {@code linkerd viz stat}-like table. */
    public static void print(List<Row> rows, double seconds, java.io.PrintStream out) {
        List<String[]> t = new ArrayList<>();
        t.add(new String[] {"WORKLOAD", "DIRECTION", "SUCCESS", "CONN/s", "ACTIVE", "READ B/s", "WRITE B/s", "MTLS"});
        for (Row r : rows) {
            t.add(new String[] {r.workload(), r.direction(), pct(r.successRate()),
                String.format("%.1f", r.connectionsPerSecond()), String.valueOf(r.active()),
                bytes(r.readBytesPerSecond()), bytes(r.writeBytesPerSecond()), pct(r.mtls())});
        }
        int[] w = new int[t.get(0).length];
        for (String[] r : t) {
            for (int i = 0; i < r.length; i++) {
                w[i] = Math.max(w[i], r[i].length());
            }
        }
        for (String[] r : t) {
            var line = new StringBuilder();
            for (int i = 0; i < r.length; i++) {
                line.append(String.format("%-" + (w[i] + 2) + "s", r[i]));
            }
            out.println(line.toString().stripTrailing());
        }
        if (rows.isEmpty()) {
            out.println("(no meshed traffic reported by the agents)");
        }
        out.printf("rates over %.1f s%n", seconds);
    }

    /** Rows as JSON-friendly maps (NaN becomes null). */
    public static List<Map<String, Object>> model(List<Row> rows) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Row r : rows) {
            var m = new LinkedHashMap<String, Object>();
            m.put("workload", r.workload());
            m.put("direction", r.direction());
            m.put("successRate", Double.isNaN(r.successRate()) ? null : r.successRate());
            m.put("connectionsPerSecond", r.connectionsPerSecond());
            m.put("active", r.active());
            m.put("readBytesPerSecond", r.readBytesPerSecond());
            m.put("writeBytesPerSecond", r.writeBytesPerSecond());
            m.put("mtls", Double.isNaN(r.mtls()) ? null : r.mtls());
            out.add(m);
        }
        return out;
    }

    private static String pct(double v) {
        return Double.isNaN(v) ? "-" : String.format("%.2f%%", v * 100);
    }

    private static String bytes(double v) {
        if (v >= 1 << 20) {
            return String.format("%.1fMi", v / (1 << 20));
        }
        if (v >= 1 << 10) {
            return String.format("%.1fKi", v / (1 << 10));
        }
        return String.format("%.0f", v);
    }
}
