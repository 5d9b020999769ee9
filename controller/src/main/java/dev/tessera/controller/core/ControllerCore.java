package dev.tessera.controller.core;

import dev.tessera.controller.identity.AgentAuthenticator;
import dev.tessera.controller.identity.IssuingCa;
import dev.tessera.controller.identity.SvidIssuer;
import dev.tessera.controller.watch.MeshSource;

/**
 * What the controller runs on, in either mode: the mesh state source, the CA, the agent authenticator
 * and the SVID issuer, plus the facts its metrics and health report. What the config push server is
 * built from.
 */
public interface ControllerCore extends AutoCloseable {

    /** Where the mesh state comes from (started). */
    MeshSource source();

    /** The issuing CA (loaded). */
    IssuingCa ca();

    /** Authenticates agents' tokens. */
    AgentAuthenticator authenticator();

    /** Signs workload certificates with node authorization. */
    SvidIssuer issuer();

    /**
     * Where root rotations are asked for (local mode: a new root in the CA directory); empty when this mode
     * cannot rotate while running.
     */
    default java.util.Optional<dev.tessera.controller.identity.RotationDriver.Requests> rotationRequests() {
        return java.util.Optional.empty();
    }

    /**
     * Called after every change of the trust bundle or signer (a rotation step), after the push server sent
     * it: Kubernetes mode publishes the bundle ConfigMap the agents mount.
     */
    default void trustChanged() {}

    /**
     * Whether the trust bundle of {@code generation} (the current one) reached what agents verify the
     * controller with when they reconnect, so the signer may switch to a new root (local mode: {@code ca.crt},
     * which {@code tessera local rotate-root} writes before it asks, so always).
     */
    default boolean trustDistributed(long generation) {
        return true;
    }

    /** Whether this replica performs the writes (always true in local mode, which writes nothing). */
    boolean isLeader();

    /** Invalid policies in the current state. */
    default int invalidPolicies() {
        return source().current().policies().rejected().size();
    }

    @Override
    void close();
}
