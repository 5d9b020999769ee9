package dev.tessera.cli.install;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The controller Deployment and Service: the hardening and wiring the install issue asks for. */
class ControllerDeploymentTest {

    final List<HasMetadata> all = Manifests.load();
    final Deployment deployment = all.stream().filter(o -> o instanceof Deployment).map(o -> (Deployment) o)
            .findFirst().orElseThrow();
    final Service service = all.stream().filter(o -> o instanceof Service).map(o -> (Service) o).findFirst().orElseThrow();
    final io.fabric8.kubernetes.api.model.PodSpec pod = deployment.getSpec().getTemplate().getSpec();
    final io.fabric8.kubernetes.api.model.Container controller = pod.getContainers().get(0);

    @Test
    void hardened() {
        assertThat(deployment.getSpec().getReplicas()).isEqualTo(InstallOptions.DEFAULT_CONTROLLER_REPLICAS);
        assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
        assertThat(pod.getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
        var sc = controller.getSecurityContext();
        assertThat(sc.getReadOnlyRootFilesystem()).isTrue();
        assertThat(sc.getAllowPrivilegeEscalation()).isFalse();
        assertThat(sc.getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(sc.getCapabilities().getAdd()).isNullOrEmpty();
        assertThat(controller.getResources().getRequests()).containsKeys("cpu", "memory");
        assertThat(controller.getResources().getLimits()).containsKey("memory");
        assertThat(pod.getAffinity().getPodAntiAffinity().getPreferredDuringSchedulingIgnoredDuringExecution())
                .singleElement().satisfies(t -> assertThat(t.getPodAffinityTerm().getTopologyKey())
                        .isEqualTo("kubernetes.io/hostname"));
        assertThat(controller.getImage()).isEqualTo(InstallOptions.DEFAULT_CONTROLLER_IMAGE);
    }

    @Test
    void probesLeaderElectionAndFlags() {
        assertThat(controller.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/healthz/live");
        assertThat(controller.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/healthz/ready");
        assertThat(port(controller.getLivenessProbe().getHttpGet().getPort().getStrVal())).isEqualTo(15014);
        assertThat(port(controller.getReadinessProbe().getHttpGet().getPort().getStrVal())).isEqualTo(15014);
        assertThat(controller.getArgs()).containsExactly("--namespace=tessera-system", "--trust-domain=cluster.local",
                "--ca-secret=tessera-ca", "--port=15012", "--metrics-port=15014",
                "--token-audience=tessera-controller", "--leader-election", "--pod-name=$(POD_NAME)",
                "--pod-namespace=$(POD_NAMESPACE)", "--log-level=info", "--log-format=text");
        assertThat(controller.getEnv()).extracting(e -> e.getName() + "="
                + (e.getValueFrom() == null ? e.getValue() : e.getValueFrom().getFieldRef().getFieldPath()))
                .containsExactly("POD_NAME=metadata.name", "POD_NAMESPACE=metadata.namespace");
    }

    @Test
    void serviceTargetsTheContainersNamedPorts() {
        assertThat(service.getMetadata().getName()).isEqualTo("tessera-controller");
        assertThat(service.getSpec().getSelector()).isEqualTo(deployment.getSpec().getSelector().getMatchLabels());
        assertThat(service.getSpec().getPorts()).extracting(p -> p.getName() + ":" + p.getPort() + "->"
                + port(p.getTargetPort().getStrVal())).containsExactly("push:15012->15012", "http-metrics:15014->15014");
    }

    private int port(String name) {
        return controller.getPorts().stream().filter(p -> p.getName().equals(name)).map(ContainerPort::getContainerPort)
                .findFirst().orElseThrow(() -> new AssertionError("no container port named " + name));
    }
}
