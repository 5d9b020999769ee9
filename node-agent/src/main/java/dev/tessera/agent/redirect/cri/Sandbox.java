package dev.tessera.agent.redirect.cri;

import static java.util.Objects.requireNonNull;

import java.time.Instant;

/**
 * One pod sandbox found in a runtime's state directory.
 *
 * @param layout the runtime that wrote it
 * @param id the sandbox (container) id, i.e. the name of its state directory
 * @param namespace the pod's namespace
 * @param name the pod's name
 * @param uid the pod's UID, or empty when the runtime did not record it
 * @param netns the network namespace path as written in the spec (a host path, e.g.
 *     {@code /var/run/netns/cni-...})
 * @param created when the spec was written (its modification time): the newest sandbox of a pod wins
 */
public record Sandbox(CriLayout layout, String id, String namespace, String name, String uid, String netns,
        Instant created) {

    public Sandbox {
        requireNonNull(layout, "layout");
        requireNonNull(id, "id");
        requireNonNull(namespace, "namespace");
        requireNonNull(name, "name");
        requireNonNull(uid, "uid");
        requireNonNull(netns, "netns");
        requireNonNull(created, "created");
    }

    /** {@code namespace/name}, as {@link dev.tessera.api.model.Workload#key()}. */
    public String podKey() {
        return namespace + "/" + name;
    }
}
