package dev.tessera.controller.identity;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the controller's {@link IssuingCa} in a Kubernetes Secret. A Secret the user provides (for
 * example one cert-manager maintains, with {@code tls.crt}, {@code tls.key}, {@code ca.crt}) is used
 * as is; when the Secret does not exist a CA is generated and stored. Replicas racing to create it
 * converge: the loser of the create (409 Conflict) reads and uses the winner's CA.
 */
public final class CaStore {

    private static final Logger log = LoggerFactory.getLogger(CaStore.class);

    /** Label put on a Secret this controller generated. */
    public static final String GENERATED_LABEL = "tessera.dev/generated-ca";

    /** Where the CA came from. */
    public enum Origin {
        /** Read from an existing Secret (provided by the user or stored by an earlier start). */
        LOADED,
        /** Generated now and stored in a new Secret. */
        GENERATED
    }

    /**
     * The CA and where it came from.
     *
     * @param ca the CA
     * @param origin loaded or generated
     */
    public record Loaded(IssuingCa ca, Origin origin) {
        public Loaded {
            requireNonNull(ca, "ca");
            requireNonNull(origin, "origin");
        }
    }

    private final KubernetesClient client;
    private final String namespace;
    private final String secretName;
    private final String trustDomain;

    /**
     * @param client the API client
     * @param namespace the controller's namespace
     * @param secretName the CA Secret's name
     * @param trustDomain the trust domain of a generated CA
     */
    public CaStore(KubernetesClient client, String namespace, String secretName, String trustDomain) {
        this.client = requireNonNull(client, "client");
        this.namespace = requireNonNull(namespace, "namespace");
        this.secretName = requireNonNull(secretName, "secretName");
        this.trustDomain = requireNonNull(trustDomain, "trustDomain");
    }

    /**
     * The CA of the Secret, generating and storing one when the Secret does not exist.
     *
     * @throws IllegalArgumentException when the Secret exists but does not hold a valid CA (the message
     *     names the Secret and the key)
     */
    public Loaded loadOrCreate() {
        Secret existing = client.secrets().inNamespace(namespace).withName(secretName).get();
        if (existing != null) {
            return new Loaded(read(existing), Origin.LOADED);
        }
        return create();
    }

    /**
     * The CA of the Secret; while it does not exist, creates it when {@code mayCreate} says so (the
     * leader) and otherwise waits, polling every {@code poll}, for another replica to create it.
     *
     * @throws IllegalStateException when the Secret did not appear within {@code timeout}
     * @throws InterruptedException when interrupted while waiting
     */
    public Loaded awaitOrCreate(java.util.function.BooleanSupplier mayCreate, java.time.Duration poll,
            java.time.Duration timeout) throws InterruptedException {
        requireNonNull(mayCreate, "mayCreate");
        long deadline = System.nanoTime() + timeout.toNanos();
        boolean logged = false;
        while (true) {
            Secret existing = client.secrets().inNamespace(namespace).withName(secretName).get();
            if (existing != null) {
                return new Loaded(read(existing), Origin.LOADED);
            }
            if (mayCreate.getAsBoolean()) {
                return create();
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("Secret " + namespace + "/" + secretName + ": still missing after "
                        + timeout + " (expected: created by the leader replica, or provided by the user)");
            }
            if (!logged) {
                log.info("waiting for the leader to create CA Secret {}/{}", namespace, secretName);
                logged = true;
            }
            Thread.sleep(poll.toMillis());
        }
    }

    private Loaded create() {
        IssuingCa generated = IssuingCa.generate(trustDomain);
        var data = secretData(generated);
        Secret secret = new SecretBuilder()
                .withNewMetadata().withNamespace(namespace).withName(secretName)
                .addToLabels(GENERATED_LABEL, "true").endMetadata()
                .withType("kubernetes.io/tls")
                .withData(data)
                .build();
        try {
            client.secrets().inNamespace(namespace).resource(secret).create();
            log.info("generated CA for {} and stored it in Secret {}/{}", trustDomain, namespace, secretName);
            return new Loaded(generated, Origin.GENERATED);
        } catch (KubernetesClientException e) {
            if (e.getCode() != 409) {
                throw e;
            }
            // Another replica created it between our read and our create: use theirs.
            Secret winner = client.secrets().inNamespace(namespace).withName(secretName).get();
            if (winner == null) {
                throw new IllegalStateException("Secret " + namespace + "/" + secretName
                        + ": create conflicted but it cannot be read", e);
            }
            log.info("Secret {}/{} was created concurrently: using that CA", namespace, secretName);
            return new Loaded(read(winner), Origin.LOADED);
        }
    }

    private IssuingCa read(Secret secret) {
        return read(secret, namespace, secretName);
    }

    /**
     * The CA a Secret holds ({@code .data} base64 or {@code .stringData} PEM).
     *
     * @throws IllegalArgumentException naming the Secret and the key when a value is missing, malformed or
     *     does not fit (key not matching {@value IssuingCa#TLS_CRT}, not a CA, not chaining to {@value IssuingCa#CA_CRT})
     */
    static IssuingCa read(Secret secret, String namespace, String secretName) {
        Map<String, String> data = secret.getData() == null ? Map.of() : secret.getData();
        Map<String, String> plain = secret.getStringData() == null ? Map.of() : secret.getStringData();
        try {
            return IssuingCa.fromPem(value(data, plain, IssuingCa.TLS_CRT), value(data, plain, IssuingCa.TLS_KEY),
                    value(data, plain, IssuingCa.CA_CRT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Secret " + namespace + "/" + secretName + ": " + e.getMessage(), e);
        }
    }

    private static String value(Map<String, String> data, Map<String, String> plain, String key) {
        String b64 = data.get(key);
        if (b64 != null) {
            try {
                return new String(Base64.getMimeDecoder().decode(b64), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(key + ": not base64 (expected: base64 of PEM in .data)", e);
            }
        }
        return plain.get(key);
    }

    /** The {@code .data} of a Secret holding {@code ca} (base64 of each PEM value). */
    static Map<String, String> secretData(IssuingCa ca) {
        var data = new LinkedHashMap<String, String>();
        ca.toSecretData().forEach((k, v) -> data.put(k, base64(v)));
        return data;
    }

    private static String base64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }
}
