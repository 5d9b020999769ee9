package dev.tessera.agent.redirect.cri;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.redirect.PodNetnsResolver;
import dev.tessera.api.model.Workload;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Finds a pod's network namespace on a real node from the container runtime's state on disk: the OCI
 * spec of the pod's sandbox names its network namespace (see {@link CriLayout} for the containerd and
 * CRI-O layouts). Both layouts are read when present, so one agent image serves either runtime.
 *
 * <p>All host paths are read under {@code hostRoot} (the agent container mounts the host's directories
 * under e.g. {@code /host}; on the host itself it is {@code /}). Sandboxes are cached by id and re-read
 * only when a runtime's state directory changes; a sandbox whose directory disappears is forgotten. When a
 * pod is re-created under the same name, the newest sandbox whose namespace still exists wins, so the
 * new pod gets its new namespace even while the old sandbox is being torn down.
 */
public final class CriNetnsResolver implements PodNetnsResolver {

    private final Path hostRoot;
    private final List<StateDir> dirs = new ArrayList<>();
    private Map<String, List<Sandbox>> byPod = Map.of();

    /** Reads every {@link CriLayout} under {@code hostRoot}. */
    public CriNetnsResolver(Path hostRoot) {
        this(hostRoot, EnumSet.allOf(CriLayout.class));
    }

    /**
     * Reads the given layouts under {@code hostRoot}.
     *
     * @throws IllegalArgumentException when {@code hostRoot} holds none of their state directories
     */
    public CriNetnsResolver(Path hostRoot, Set<CriLayout> layouts) {
        this.hostRoot = requireNonNull(hostRoot, "hostRoot").toAbsolutePath().normalize();
        requireNonNull(layouts, "layouts");
        for (CriLayout l : layouts) {
            dirs.add(new StateDir(l, this.hostRoot.resolve(l.stateDir())));
        }
        if (dirs.stream().noneMatch(d -> Files.isDirectory(d.dir()))) {
            throw new IllegalArgumentException("hostRoot: " + hostRoot + " (expected: the host's root directory,"
                    + " holding a container runtime's state: one of " + layouts.stream()
                            .map(l -> "/" + l.stateDir() + " (" + l.runtime() + ")").collect(Collectors.joining(", "))
                    + ")");
        }
    }

    /** The host root all paths are read under. */
    public Path hostRoot() {
        return hostRoot;
    }

    @Override
    public synchronized Optional<Path> netnsOf(Workload workload) {
        refresh();
        for (Sandbox s : byPod.getOrDefault(workload.key(), List.of())) {
            Optional<Path> path = onHost(s.netns());
            if (path.isPresent()) {
                return path;
            }
        }
        return Optional.empty();
    }

    /** Every pod sandbox with a network namespace of its own, as of now, newest first per pod. */
    public synchronized List<Sandbox> sandboxes() {
        refresh();
        List<Sandbox> out = new ArrayList<>();
        byPod.values().forEach(out::addAll);
        return out;
    }

    private void refresh() {
        boolean changed = false;
        for (StateDir d : dirs) {
            try {
                changed |= d.refresh();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + d.layout().runtime() + " state " + d.dir(), e);
            }
        }
        if (changed) {
            Map<String, List<Sandbox>> index = new HashMap<>();
            for (StateDir d : dirs) {
                d.sandboxes().forEach(s -> index.computeIfAbsent(s.podKey(), k -> new ArrayList<>()).add(s));
            }
            index.values().forEach(l -> l.sort(Comparator.comparing(Sandbox::created).reversed()
                    .thenComparing(Sandbox::id)));
            byPod = index;
        }
    }

    /**
     * A host path as seen under the host root, when it exists. {@code /var/run} is a symlink to
     * {@code /run} on current distributions, and the agent may have only one of the two mounted.
     */
    Optional<Path> onHost(String hostPath) {
        List<String> candidates = new ArrayList<>(List.of(hostPath));
        if (hostPath.startsWith("/var/run/")) {
            candidates.add(hostPath.substring("/var".length()));
        } else if (hostPath.startsWith("/run/")) {
            candidates.add("/var" + hostPath);
        }
        for (String c : candidates) {
            Path p = hostRoot.resolve(c.replaceFirst("^/+", "")).normalize();
            if (p.startsWith(hostRoot) && Files.exists(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }
}
