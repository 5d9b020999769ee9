package dev.tessera.controller.push;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.controller.identity.IssuingCa;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLException;

/**
 * The push server's own TLS identity: a key generated in memory and a certificate from the controller's
 * issuing CA naming {@code tessera-controller.<ns>.svc} (and the configured extra names and addresses) and
 * {@code spiffe://<td>/ns/<ns>/sa/tessera-controller}. {@link #renew()} makes a fresh one; the server
 * renews at half life and new connections use the newest. TLS 1.3 only, BoringSSL when available.
 */
final class ServerCertificate {

    private final java.util.function.Supplier<IssuingCa> ca;
    private final PushServerConfig config;
    private volatile SslContext context;
    private volatile List<X509Certificate> chain;

    ServerCertificate(IssuingCa ca, PushServerConfig config) {
        this(() -> ca, config);
        requireNonNull(ca, "ca");
    }

    /** A certificate from whichever CA signs at each renewal (a root rotation switches it). */
    ServerCertificate(java.util.function.Supplier<IssuingCa> ca, PushServerConfig config) {
        this.ca = requireNonNull(ca, "ca");
        this.config = requireNonNull(config, "config");
        renew();
    }

    /** Issues a new certificate and switches new connections to it. */
    void renew() {
        KeyPair key = CertificateAuthority.newKeyPair();
        var dns = new ArrayList<>(config.serviceNames());
        dns.addAll(config.dnsNames());
        SpiffeId id = new SpiffeId(config.trustDomain(), config.namespace(), PushServerConfig.SERVICE_ACCOUNT);
        List<X509Certificate> issued = ca.get().issueServer(key.getPublic(), id, dns, config.ips(), config.serverCertTtl());
        try {
            context = SslContextBuilder.forServer(key.getPrivate(), issued.toArray(X509Certificate[]::new))
                    .sslProvider(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK)
                    .protocols("TLSv1.3")
                    .build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot build the push server's TLS context: " + e.getMessage(), e);
        }
        chain = issued;
    }

    SslContext context() {
        return context;
    }

    /** Leaf first. */
    List<X509Certificate> chain() {
        return chain;
    }

    /** When the server should renew: half the lifetime of the current certificate. */
    Duration renewIn() {
        X509Certificate leaf = chain.get(0);
        long life = leaf.getNotAfter().getTime() - leaf.getNotBefore().getTime();
        long due = leaf.getNotBefore().getTime() + life / 2 - System.currentTimeMillis();
        return Duration.ofMillis(Math.max(1000, due));
    }
}
