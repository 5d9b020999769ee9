package dev.tessera.cli.install;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.AgentMain;
import dev.tessera.agent.config.AgentConfig;
import dev.tessera.agent.redirect.cri.CriLayout;
import dev.tessera.api.config.Ports;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The agent DaemonSet against the agent itself: its args parse with the agent's own command line, and
 * the ports, probe, mounts and capabilities match the agent's defaults (read from {@link AgentConfig} and
 * {@link AgentMain}'s options, so this fails when either side drifts).
 */
class AgentDaemonSetTest {

    final DaemonSet daemonSet = Manifests.load().stream().filter(o -> o instanceof DaemonSet).map(o -> (DaemonSet) o)
            .findFirst().orElseThrow();
    final PodSpec pod = daemonSet.getSpec().getTemplate().getSpec();
    final Container agent = pod.getContainers().get(0);
    final CommandLine agentMain = new CommandLine(new AgentMain());
    final CommandLine.ParseResult args = agentMain.parseArgs(agent.getArgs().toArray(String[]::new));

    @Test
    void argsAreTheAgentsOwnFlags() {
        assertThat(args.unmatched()).isEmpty();
        assertThat(args.matchedOptionValue("--node", "")).isEqualTo("$(NODE_NAME)");
        assertThat(args.matchedOptionValue("--node-ip", "")).isEqualTo("$(NODE_IP)");
        assertThat(env("NODE_NAME")).isEqualTo("spec.nodeName");
        assertThat(env("NODE_IP")).isEqualTo("status.hostIP");
        assertThat(args.matchedOptionValue("--netns-source", (Object) null)).hasToString("CRI");
        assertThat(args.matchedOptionValue("--controller", "")).isEqualTo("tessera-controller.tessera-system.svc:15012");
        // the chart's logLevel / logFormat, as values the agent accepts
        assertThat(args.matchedOptionValue("--log-level", "")).isEqualTo("info");
        assertThat(args.matchedOptionValue("--log-format", "")).isEqualTo("text");
        assertThat(AgentConfig.logLevel("info")).isNotNull();
    }

    @Test
    void portsAndProbeAreTheAgentsDefaults() {
        assertPort("outbound", Ports.OUTBOUND, "--outbound-port");
        assertPort("hbone", Ports.HBONE, "--inbound-port");
        assertPort("metrics", Ports.METRICS, "--metrics-port");
        assertPort("readiness", Ports.READY, "--ready-port");
        // No declared ports: with hostNetwork they default to host ports, which would keep the surge pod of
        // an upgrade from being scheduled next to the old one (the listener handoff needs both on the node).
        assertThat(agent.getPorts()).isEmpty();
        var probe = agent.getReadinessProbe().getHttpGet();
        assertThat(probe.getPort().getIntVal()).isEqualTo(Ports.READY);
        assertThat(probe.getPath()).isEqualTo("/healthz/ready");
        assertThat(daemonSet.getSpec().getTemplate().getMetadata().getAnnotations())
                .containsEntry("prometheus.io/scrape", "true")
                .containsEntry("prometheus.io/port", String.valueOf(Ports.METRICS));
    }

    @Test
    void thePodMonitorScrapesTheMetricsPort() {
        GenericKubernetesResource pm = HelmChart.objects(HelmChart.forKustomize(HelmChart.MONITORING)).stream()
                .filter(o -> "PodMonitor".equals(o.getKind()) && o.getMetadata().getName().equals("tessera-node-agents"))
                .map(o -> (GenericKubernetesResource) o).findFirst().orElseThrow();
        @SuppressWarnings("unchecked")
        var endpoints = (List<Map<String, Object>>) ((Map<String, Object>) pm.getAdditionalProperties().get("spec"))
                .get("podMetricsEndpoints");
        assertThat(endpoints.get(0)).doesNotContainKey("port"); // the pod declares no ports
        assertThat(endpoints.get(0).get("path")).isEqualTo("/metrics");
        @SuppressWarnings("unchecked")
        var relabelings = (List<Map<String, Object>>) endpoints.get(0).get("relabelings");
        assertThat(relabelings).anySatisfy(r -> {
            assertThat(r.get("sourceLabels")).isEqualTo(List.of("__meta_kubernetes_pod_ip"));
            assertThat(r.get("targetLabel")).isEqualTo("__address__");
            assertThat(r.get("replacement")).isEqualTo("${1}:" + Ports.METRICS);
        });
    }

    @Test
    void theHandoffSocketIsOnTheHostSoTheNextPodReachesIt() {
        Path socket = Path.of(AgentConfig.HANDOFF_DIR, "node-a.sock");
        assertThat(hostPathOf(socket)).isEqualTo(socket);
        assertThat(mountOf(socket).getReadOnly()).isNotEqualTo(Boolean.TRUE);
        assertThat(volumeOf(socket).getHostPath().getType()).isEqualTo("DirectoryOrCreate");
    }

    @Test
    void everyPathTheAgentReadsIsMountedFromTheRightHostPath() {
        // pins: the default pin dir lies in the host's bpffs
        Path pinDir = Path.of(defaultOf("--bpf-pin-dir"));
        assertThat(hostPathOf(pinDir)).isEqualTo(Path.of("/sys/fs/bpf/tessera"));
        assertThat(mountOf(pinDir).getMountPropagation()).isEqualTo("HostToContainer");
        // the cgroup v2 root of the host
        assertThat(hostPathOf(args.matchedOptionValue("--cgroup", (Path) null))).isEqualTo(Path.of("/sys/fs/cgroup"));
        // the runtimes' state and the pods' namespaces under --host-root
        Path hostRoot = args.matchedOptionValue("--host-root", Path.of(defaultOf("--host-root")));
        for (CriLayout layout : CriLayout.values()) {
            Path inContainer = hostRoot.resolve(layout.stateDir());
            assertThat(hostPathOf(inContainer)).as(layout.runtime()).isEqualTo(Path.of("/").resolve(layout.stateDir()));
            assertThat(mountOf(inContainer).getReadOnly()).isTrue();
        }
        Path netns = hostRoot.resolve("var/run/netns");
        assertThat(hostPathOf(netns)).isEqualTo(Path.of("/var/run/netns"));
        assertThat(mountOf(netns).getMountPropagation()).isEqualTo("HostToContainer");
        // the controller token (projected, the controller's audience) and the root certificates
        Path token = Path.of(defaultOf("--controller-token"));
        Volume tokenVolume = volumeOf(token);
        var projected = tokenVolume.getProjected().getSources().get(0).getServiceAccountToken();
        assertThat(projected.getAudience()).isEqualTo("tessera-controller");
        assertThat(projected.getPath()).isEqualTo(token.getFileName().toString());
        assertThat(mountOf(token).getMountPath()).isEqualTo(token.getParent().toString());
        Path ca = Path.of(defaultOf("--controller-ca"));
        var configMap = volumeOf(ca).getConfigMap();
        assertThat(configMap.getName()).isEqualTo("tessera-ca-root-cert");
        assertThat(configMap.getItems()).singleElement().satisfies(i -> {
            assertThat(i.getKey()).isEqualTo("root-cert.pem");
            assertThat(i.getPath()).isEqualTo(ca.getFileName().toString());
        });
        assertThat(mountOf(ca).getMountPath()).isEqualTo(ca.getParent().toString());
    }

    @Test
    void exactlyTheDocumentedCapabilitiesAndNoPrivilegedMode() {
        var sc = agent.getSecurityContext();
        assertThat(sc.getPrivileged()).isNull();
        assertThat(sc.getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(sc.getCapabilities().getAdd()).containsExactly("BPF", "NET_ADMIN", "SYS_ADMIN");
        assertThat(sc.getReadOnlyRootFilesystem()).isTrue();
        assertThat(sc.getAllowPrivilegeEscalation()).isFalse();
        // pinning writes under /sys/fs/bpf, which the runtimes' default AppArmor profile denies: the field, not
        // the annotation deprecated since Kubernetes 1.30
        assertThat(sc.getAppArmorProfile().getType()).isEqualTo("Unconfined");
        assertThat(daemonSet.getSpec().getTemplate().getMetadata().getAnnotations())
                .doesNotContainKey("container.apparmor.security.beta.kubernetes.io/agent");
        assertThat(pod.getHostNetwork()).isTrue();
        assertThat(pod.getDnsPolicy()).isEqualTo("ClusterFirstWithHostNet");
        assertThat(pod.getPriorityClassName()).isEqualTo("system-node-critical");
        assertThat(pod.getTolerations()).singleElement().satisfies(t -> {
            assertThat(t.getOperator()).isEqualTo("Exists");
            assertThat(t.getKey()).isNull();
            assertThat(t.getEffect()).isNull();
        });
        assertThat(pod.getAutomountServiceAccountToken()).isFalse();
        // Surge: the new agent starts next to the old one and takes its listeners over the handoff socket.
        var rolling = daemonSet.getSpec().getUpdateStrategy().getRollingUpdate();
        assertThat(rolling.getMaxSurge().getIntVal()).isEqualTo(1);
        assertThat(rolling.getMaxUnavailable().getIntVal()).isZero();
        // the old agent may answer the new pod's first probes (same host port): readiness must hold a while
        assertThat(daemonSet.getSpec().getMinReadySeconds()).isGreaterThanOrEqualTo(10);
        assertThat(pod.getTerminationGracePeriodSeconds()).isPositive();
        // no mount asks for Bidirectional propagation (the API server allows it only in privileged containers)
        assertThat(agent.getVolumeMounts()).extracting(VolumeMount::getMountPropagation).doesNotContain("Bidirectional");
    }

    @Test
    void theAgentServiceAccountHasNoRbac() {
        List<HasMetadata> all = Manifests.load();
        assertThat(all).filteredOn(o -> o.getKind().endsWith("Binding")).allSatisfy(b -> assertThat(
                io.fabric8.kubernetes.client.utils.Serialization.asJson(b)).doesNotContain(pod.getServiceAccountName()));
    }

    private void assertPort(String name, int constant, String option) {
        assertThat(Integer.parseInt(defaultOf(option))).as(name + " " + option).isEqualTo(constant);
    }

    private String defaultOf(String option) {
        var o = agentMain.getCommandSpec().findOption(option);
        assertThat(o).as("agent option " + option).isNotNull();
        return o.defaultValue();
    }

    private String env(String name) {
        return agent.getEnv().stream().filter(e -> e.getName().equals(name)).map(EnvVar::getValueFrom)
                .map(v -> v.getFieldRef().getFieldPath()).findFirst().orElseThrow();
    }

    /** The mount holding {@code path} in the container (deepest mount path that contains it). */
    private VolumeMount mountOf(Path path) {
        return agent.getVolumeMounts().stream().filter(m -> path.startsWith(m.getMountPath()))
                .max((a, b) -> Integer.compare(Path.of(a.getMountPath()).getNameCount(),
                        Path.of(b.getMountPath()).getNameCount()))
                .orElseThrow(() -> new AssertionError(path + " is not under any volume mount"));
    }

    private Volume volumeOf(Path path) {
        String name = mountOf(path).getName();
        return pod.getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst().orElseThrow();
    }

    /** Where {@code path} in the container is on the host (it must be under a hostPath volume). */
    private Path hostPathOf(Path path) {
        VolumeMount m = mountOf(path);
        Volume v = volumeOf(path);
        assertThat(v.getHostPath()).as(path + " via volume " + v.getName()).isNotNull();
        return Path.of(v.getHostPath().getPath()).resolve(Path.of(m.getMountPath()).relativize(path));
    }
}
