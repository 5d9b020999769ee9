package dev.tessera.agent.control;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.identity.CertificateSigner;
import dev.tessera.api.identity.SpiffeId;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;

/**
 * Gets workload certificates signed by the controller over the {@link ControllerClient}'s session (the
 * controller checks that this node runs a pod with the identity). Requests made while disconnected are
 * sent after the reconnect; a refusal fails the future with a {@link CertificateRefusedException}.
 */
public final class ControllerSigner implements CertificateSigner {

    private final ControllerClient client;
    private final Supplier<List<X509Certificate>> initialBundle;

    /**
     * @param client the controller session
     * @param initialBundle the roots to trust before the controller sent its bundle (the {@code --controller-ca} file)
     */
    public ControllerSigner(ControllerClient client, Supplier<List<X509Certificate>> initialBundle) {
        this.client = requireNonNull(client, "client");
        this.initialBundle = requireNonNull(initialBundle, "initialBundle");
    }

    @Override
    public CompletableFuture<List<X509Certificate>> sign(PKCS10CertificationRequest csr, SpiffeId id) {
        return client.requestCertificate(requireNonNull(csr, "csr"), requireNonNull(id, "id"));
    }

    @Override
    public List<X509Certificate> trustBundle() {
        List<X509Certificate> b = client.trustBundle();
        return b.isEmpty() ? initialBundle.get() : b;
    }
}
