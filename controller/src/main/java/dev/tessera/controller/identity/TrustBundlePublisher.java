package dev.tessera.controller.identity;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.identity.CertificateAuthority.Pem;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the trust bundle ConfigMap {@value #CONFIG_MAP} (key {@value #KEY}: every root of the bundle,
 * PEM) in the controller namespace, which the agents mount to verify the controller and their peers.
 * Only the leader writes; a call on another replica does nothing.
 */
public final class TrustBundlePublisher {

    private static final Logger log = LoggerFactory.getLogger(TrustBundlePublisher.class);

    /** The ConfigMap's name. */
    public static final String CONFIG_MAP = "tessera-ca-root-cert";
    /** The key holding the roots. */
    public static final String KEY = "root-cert.pem";

    private final KubernetesClient client;
    private final String namespace;
    private final BooleanSupplier isLeader;

    public TrustBundlePublisher(KubernetesClient client, String namespace, BooleanSupplier isLeader) {
        this.client = requireNonNull(client, "client");
        this.namespace = requireNonNull(namespace, "namespace");
        this.isLeader = requireNonNull(isLeader, "isLeader");
    }

    /**
     * Creates or updates the ConfigMap to hold exactly {@code roots} (no write when it already does).
     *
     * @return true when it wrote
     */
    public boolean publish(List<X509Certificate> roots) {
        if (roots.isEmpty()) {
            throw new IllegalArgumentException("roots: empty (expected: at least one trusted root)");
        }
        if (!isLeader.getAsBoolean()) {
            return false;
        }
        String pem = Pem.write(roots.toArray());
        var configMaps = client.configMaps().inNamespace(namespace);
        ConfigMap existing = configMaps.withName(CONFIG_MAP).get();
        if (existing != null && existing.getData() != null && pem.equals(existing.getData().get(KEY))) {
            return false;
        }
        try {
            if (existing == null) {
                configMaps.resource(new ConfigMapBuilder().withNewMetadata().withName(CONFIG_MAP).withNamespace(namespace)
                        .endMetadata().withData(Map.of(KEY, pem)).build()).create();
            } else {
                // A copy: never modify what the client returned to someone else.
                configMaps.resource(new ConfigMapBuilder(existing).withData(Map.of(KEY, pem)).build()).update();
            }
        } catch (KubernetesClientException e) {
            if (e.getCode() == 409) {
                log.info("ConfigMap {}/{} changed concurrently; next publish will retry", namespace, CONFIG_MAP);
                return false;
            }
            throw e;
        }
        log.info("trust bundle ConfigMap {}/{} now holds {} root(s)", namespace, CONFIG_MAP, roots.size());
        return true;
    }
}
