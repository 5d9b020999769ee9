package dev.tessera.agent.redirect.cri;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * Where a container runtime keeps the OCI runtime spec ({@code config.json}) of each pod sandbox, and
 * which annotations name the pod. Paths are relative to the host's root.
 *
 * <ul>
 *   <li><b>containerd</b> (CRI plugin, runtime v2 shims): one bundle directory per container under
 *       {@code /run/containerd/io.containerd.runtime.v2.task/k8s.io/<id>/config.json}; sandboxes carry
 *       {@code io.kubernetes.cri.container-type=sandbox}, {@code io.kubernetes.cri.sandbox-name},
 *       {@code io.kubernetes.cri.sandbox-namespace} and {@code io.kubernetes.cri.sandbox-uid}.
 *   <li><b>CRI-O</b>: {@code /run/containers/storage/overlay-containers/<id>/userdata/config.json} (the
 *       run directory; CRI-O writes it also when it drops the infra container); sandboxes carry
 *       {@code io.kubernetes.cri-o.ContainerType=sandbox} and the kubelet's labels copied into annotations,
 *       {@code io.kubernetes.pod.name}, {@code io.kubernetes.pod.namespace}, {@code io.kubernetes.pod.uid}
 *       (falling back to CRI-O's own {@code io.kubernetes.cri-o.KubeName} / {@code io.kubernetes.cri-o.Namespace}).
 * </ul>
 * In both, the pod's network namespace is {@code linux.namespaces[type=network].path} (a bind mount under
 * {@code /var/run/netns}); a host-network sandbox has no such path.
 */
public enum CriLayout {

    CONTAINERD("containerd", Path.of("run/containerd/io.containerd.runtime.v2.task/k8s.io"), Path.of("config.json"),
            "io.kubernetes.cri.container-type",
            new String[] {"io.kubernetes.cri.sandbox-name"},
            new String[] {"io.kubernetes.cri.sandbox-namespace"},
            new String[] {"io.kubernetes.cri.sandbox-uid"}),

    CRIO("cri-o", Path.of("run/containers/storage/overlay-containers"), Path.of("userdata/config.json"),
            "io.kubernetes.cri-o.ContainerType",
            new String[] {"io.kubernetes.pod.name", "io.kubernetes.cri-o.KubeName"},
            new String[] {"io.kubernetes.pod.namespace", "io.kubernetes.cri-o.Namespace"},
            new String[] {"io.kubernetes.pod.uid"});

    /** The value of the container-type annotation that marks a pod sandbox, in both runtimes. */
    static final String SANDBOX = "sandbox";

    private final String runtime;
    private final Path stateDir;
    private final Path specFile;
    private final String typeAnnotation;
    private final String[] nameAnnotations;
    private final String[] namespaceAnnotations;
    private final String[] uidAnnotations;

    CriLayout(String runtime, Path stateDir, Path specFile, String typeAnnotation, String[] nameAnnotations,
            String[] namespaceAnnotations, String[] uidAnnotations) {
        this.runtime = runtime;
        this.stateDir = stateDir;
        this.specFile = specFile;
        this.typeAnnotation = typeAnnotation;
        this.nameAnnotations = nameAnnotations;
        this.namespaceAnnotations = namespaceAnnotations;
        this.uidAnnotations = uidAnnotations;
    }

    /** The runtime's name, for logs. */
    public String runtime() {
        return runtime;
    }

    /** The directory holding one sub-directory per container, relative to the host root. */
    public Path stateDir() {
        return stateDir;
    }

    /** The runtime spec of container {@code id} inside {@link #stateDir()}. */
    Path specOf(Path stateDirOnHost, String id) {
        return stateDirOnHost.resolve(id).resolve(specFile);
    }

    boolean isSandbox(Map<String, String> annotations) {
        return SANDBOX.equals(annotations.get(typeAnnotation));
    }

    Optional<String> podName(Map<String, String> annotations) {
        return first(annotations, nameAnnotations);
    }

    Optional<String> podNamespace(Map<String, String> annotations) {
        return first(annotations, namespaceAnnotations);
    }

    Optional<String> podUid(Map<String, String> annotations) {
        return first(annotations, uidAnnotations);
    }

    private static Optional<String> first(Map<String, String> annotations, String[] keys) {
        for (String k : keys) {
            String v = annotations.get(k);
            if (v != null && !v.isEmpty()) {
                return Optional.of(v);
            }
        }
        return Optional.empty();
    }
}
