package dev.tessera.cli.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ObserveTest {

    private static String istio(String metric, String reporter, String flags, String policy, double v) {
        return metric + "{connection_security_policy=\"" + policy + "\",destination_principal=\"spiffe://cluster.local/ns/shop/sa/server\","
                + "destination_service=\"unknown\",destination_workload=\"server\",destination_workload_namespace=\"shop\","
                + "reporter=\"" + reporter + "\",response_flags=\"" + flags + "\",source_principal=\"spiffe://cluster.local/ns/shop/sa/client\","
                + "source_workload=\"client\",source_workload_namespace=\"shop\"} " + v + "\n";
    }

    @Test
    void parsesTheTextFormatWithEscapes() {
        var s = PromText.parse("# HELP x y\n# TYPE x counter\nx_total{a=\"q\\\"uote\",b=\"back\\\\slash\"} 3.0\nup 1\n"
                + "g{l=\"v\"} NaN\n");
        assertThat(s).hasSize(3);
        assertThat(s.get(0).name()).isEqualTo("x_total");
        assertThat(s.get(0).labels()).containsEntry("a", "q\"uote").containsEntry("b", "back\\slash");
        assertThat(s.get(1).value()).isEqualTo(1);
        assertThat(s.get(2).value()).isNaN();
        assertThatThrownBy(() -> PromText.parse("x{a=1} 2\n")).hasMessageContaining("metrics line 1");
    }

    @Test
    void statComputesRatesPerWorkloadAndDirection() {
        var before = PromText.parse(istio("istio_tcp_connections_opened_total", "source", "-", "mutual_tls", 10)
                + istio("istio_tcp_connections_closed_total", "source", "-", "mutual_tls", 8)
                + istio("istio_tcp_received_bytes_total", "source", "-", "mutual_tls", 1000));
        var after = PromText.parse(istio("istio_tcp_connections_opened_total", "source", "-", "mutual_tls", 30)
                + istio("istio_tcp_connections_closed_total", "source", "-", "mutual_tls", 26)
                + istio("istio_tcp_connections_closed_total", "source", "UF", "mutual_tls", 2)
                + istio("istio_tcp_received_bytes_total", "source", "-", "mutual_tls", 11000)
                + istio("istio_tcp_sent_bytes_total", "destination", "-", "mutual_tls", 500));
        var rows = WorkloadStats.compute(before, after, 10);
        assertThat(rows).hasSize(2);
        var client = rows.stream().filter(r -> r.workload().equals("shop/client")).findFirst().orElseThrow();
        assertThat(client.direction()).isEqualTo("outbound");
        assertThat(client.connectionsPerSecond()).isEqualTo(2.0);
        assertThat(client.successRate()).isEqualTo(18.0 / 20.0);
        assertThat(client.readBytesPerSecond()).isEqualTo(1000.0);
        assertThat(client.active()).isEqualTo(2);
        assertThat(client.mtls()).isEqualTo(1.0);
        var server = rows.stream().filter(r -> r.workload().equals("shop/server")).findFirst().orElseThrow();
        assertThat(server.direction()).isEqualTo("inbound");
        assertThat(server.writeBytesPerSecond()).isEqualTo(50.0);
        assertThat(server.successRate()).isNaN();
        assertThatThrownBy(() -> WorkloadStats.compute(before, after, 0)).hasMessageContaining("window: 0.0 s (expected: > 0)");
    }

    @Test
    void preflightJudgesKernelCapabilitiesAndProbedFeatures() throws Exception {
        assertThat(Preflight.kernelVersion("6.18.0-1-amd64").status()).isEqualTo(Check.Status.OK);
        assertThat(Preflight.kernelVersion("5.4.0").status()).isEqualTo(Check.Status.FAIL);
        assertThat(Preflight.kernelVersion("5.8.0").status()).as("5.8 was the old local minimum").isEqualTo(Check.Status.FAIL);
        assertThat(Preflight.kernelVersion("garbage").status()).isEqualTo(Check.Status.FAIL);
        assertThat(Preflight.capabilities("CapEff:\t000001fffeffffff\n")).allMatch(c -> c.status() == Check.Status.OK);
        var none = Preflight.capabilities("CapEff:\t0000000000000000\n");
        assertThat(none).allMatch(c -> c.status() == Check.Status.FAIL);
        assertThat(none.get(0).hint()).contains("privileged");
        var probe = new ObjectMapper().readTree("{\"program_types\":{\"have_cgroup_sock_addr_prog_type\":true,"
                + "\"have_sock_ops_prog_type\":false,\"have_cgroup_skb_prog_type\":true},\"helpers\":{"
                + "\"cgroup_sock_addr_available_helpers\":[\"bpf_get_netns_cookie\",\"bpf_sk_storage_get\","
                + "\"bpf_get_current_cgroup_id\",\"bpf_setsockopt\"],\"sock_ops_available_helpers\":[\"bpf_get_netns_cookie\"]}}");
        var checks = Preflight.features(probe);
        assertThat(checks).filteredOn(c -> c.status() == Check.Status.FAIL).extracting(Check::name)
                .containsExactly("program type sock_ops", "helper bpf_sk_storage_get in sock_ops");
    }

    @Test
    void preflightOnThisMachinePasses() {
        List<Check> checks = new Preflight().run();
        assertThat(checks).extracting(Check::name).contains("kernel version", "cgroup v2", "CAP_NET_ADMIN");
        if ("root".equals(System.getProperty("user.name"))) {
            assertThat(Check.passed(checks)).as("%s", checks).isTrue();
        }
    }

    @Test
    void clusterCheckFailsOnACoverageGapAndExpiredCertificates() {
        Instant now = Instant.parse("2026-01-01T00:00:00Z");
        var healthy = PromText.parse("tessera_mesh_pods{state=\"expected\"} 2\ntessera_mesh_pods{state=\"captured\"} 2\n"
                + "tessera_mesh_pods{state=\"certified\"} 2\ntessera_mesh_coverage_gap 0\n"
                + "tessera_certificate_expiry_timestamp_seconds{identity=\"spiffe://cluster.local/ns/a/sa/b\"} "
                + (now.getEpochSecond() + 86400) + "\n");
        assertThat(Check.passed(ClusterCheck.evaluate("node1", healthy, now))).isTrue();
        var gap = PromText.parse("tessera_mesh_pods{state=\"expected\"} 2\ntessera_mesh_pods{state=\"captured\"} 1\n"
                + "tessera_mesh_pods{state=\"certified\"} 2\ntessera_mesh_coverage_gap 1\n"
                + "tessera_certificate_expiry_timestamp_seconds{identity=\"spiffe://cluster.local/ns/a/sa/b\"} "
                + (now.getEpochSecond() - 1) + "\n");
        var checks = ClusterCheck.evaluate("node1", gap, now);
        assertThat(checks).filteredOn(c -> c.status() == Check.Status.FAIL).extracting(Check::name)
                .containsExactly("mesh coverage", "certificate spiffe://cluster.local/ns/a/sa/b");
        assertThat(Check.passed(checks)).isFalse();
        assertThat(Map.of()).isEmpty();
    }

    @Test
    void trustRootsSayWhetherARootRotationIsUnderWay() {
        String cat = "node1";
        assertThat(ClusterCheck.trust(cat, PromText.parse("tessera_mesh_pods{state=\"expected\"} 1\n"))).isEmpty();
        var stable = PromText.parse("tessera_trust_roots 1\n"
                + "tessera_workload_certificates{root=\"aa\",signing=\"true\"} 2\n");
        assertThat(ClusterCheck.trust(cat, stable)).singleElement().satisfies(c -> {
            assertThat(c.status()).isEqualTo(Check.Status.OK);
            assertThat(c.detail()).isEqualTo("1 root(s) trusted; certificates: 2 under the signing root");
        });
        var rotating = PromText.parse("tessera_trust_roots 2\n"
                + "tessera_workload_certificates{root=\"bb\",signing=\"true\"} 1\n"
                + "tessera_workload_certificates{root=\"aa\",signing=\"false\"} 1\n");
        assertThat(ClusterCheck.trust(cat, rotating)).singleElement().satisfies(c -> {
            assertThat(c.status()).isEqualTo(Check.Status.WARN);
            assertThat(c.detail()).contains("2 root(s)", "1 under an older root");
        });
        var broken = PromText.parse("tessera_trust_roots 1\n"
                + "tessera_workload_certificates{root=\"unknown\",signing=\"false\"} 1\n");
        assertThat(ClusterCheck.trust(cat, broken)).singleElement().extracting(Check::status).isEqualTo(Check.Status.FAIL);
    }

    @Test
    void aLocalClustersCaDirectoryShowsARotationUnderWay(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        var root = dev.tessera.api.identity.CertificateAuthority.generate("cluster.local");
        root.save(dir);
        assertThat(ClusterCheck.rotation(dir).status()).isEqualTo(Check.Status.OK);
        java.nio.file.Files.createDirectory(dir.resolve("rotation"));
        assertThat(ClusterCheck.rotation(dir).status()).isEqualTo(Check.Status.WARN);
    }
}
