package dev.tessera.controller.local;

import static java.util.Objects.requireNonNull;

import dev.tessera.controller.core.ControllerCore;
import dev.tessera.controller.identity.AgentAuthenticator;
import dev.tessera.controller.identity.IssuingCa;
import dev.tessera.controller.identity.StaticTokenAuthenticator;
import dev.tessera.controller.identity.RotationDriver;
import dev.tessera.controller.identity.SvidIssuer;
import dev.tessera.controller.identity.TrustRotation;
import dev.tessera.controller.watch.MeshSource;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The controller without Kubernetes: the mesh from a folder of manifests ({@link LocalMeshSource}), the
 * CA from {@code tessera local up}'s CA directory ({@link LocalCa}), agents authenticated by a token
 * file ({@link StaticTokenAuthenticator}). Writes nothing anywhere but the derived intermediate.
 */
public final class LocalController implements ControllerCore {

    private final LocalMeshSource source;
    private final IssuingCa ca;
    private final AgentAuthenticator authenticator;
    private final SvidIssuer issuer;
    private final LocalRotationRequests rotations;

    private LocalController(LocalMeshSource source, IssuingCa ca, AgentAuthenticator authenticator, SvidIssuer issuer) {
        this.source = source;
        this.ca = ca;
        this.authenticator = authenticator;
        this.issuer = issuer;
        this.rotations = null;
    }

    private LocalController(LocalController c, LocalRotationRequests rotations) {
        this.source = c.source;
        this.ca = c.ca;
        this.authenticator = c.authenticator;
        this.issuer = c.issuer;
        this.rotations = rotations;
    }

    /**
     * Loads the CA and tokens, starts watching the manifests and returns once the first state is published.
     *
     * @param manifests the cluster's manifests (file or folder)
     * @param networkFile its {@code network.json}, or null to plan pod addresses from the manifests
     * @param caDir the CA directory ({@code ca.crt}, {@code ca.key})
     * @param tokensFile the agents' tokens ({@code token,node[,namespace/serviceAccount]} per line)
     * @param trustDomain the trust domain
     * @param svidTtl workload certificate lifetime
     * @param poll how often the files are checked for changes
     */
    public static LocalController start(Path manifests, Path networkFile, Path caDir, Path tokensFile,
            String trustDomain, Duration svidTtl, Duration poll) throws Exception {
        requireNonNull(caDir, "caDir");
        requireNonNull(tokensFile, "tokensFile");
        IssuingCa ca = LocalCa.load(caDir, trustDomain);
        AgentAuthenticator auth = StaticTokenAuthenticator.read(tokensFile);
        var source = new LocalMeshSource(manifests, networkFile, trustDomain, poll);
        source.start();
        try {
            var issuer = new SvidIssuer(new TrustRotation(ca), auth, () -> source.current().mesh(), trustDomain, svidTtl);
            return new LocalController(new LocalController(source, ca, auth, issuer),
                    new LocalRotationRequests(caDir, trustDomain));
        } catch (RuntimeException e) {
            source.close();
            throw e;
        }
    }

    @Override
    public MeshSource source() {
        return source;
    }

    @Override
    public IssuingCa ca() {
        return ca;
    }

    @Override
    public AgentAuthenticator authenticator() {
        return authenticator;
    }

    @Override
    public SvidIssuer issuer() {
        return issuer;
    }

    @Override
    public java.util.Optional<RotationDriver.Requests> rotationRequests() {
        return java.util.Optional.ofNullable(rotations);
    }

    @Override
    public boolean isLeader() {
        return true;
    }

    @Override
    public void close() {
        source.close();
    }
}
