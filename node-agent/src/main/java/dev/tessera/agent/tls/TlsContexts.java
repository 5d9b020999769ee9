package dev.tessera.agent.tls;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.identity.CertifiedKey;
import dev.tessera.agent.identity.IdentityProvider;
import dev.tessera.api.identity.SpiffeId;
import io.netty.handler.codec.http2.Http2SecurityUtil;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslCachingX509KeyManagerFactory;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TLS 1.3 contexts for HBONE, one client and one server context per local identity, rebuilt when that
 * identity's certificate or the trust bundle changes. BoringSSL (netty-tcnative) when available, the JDK
 * provider otherwise. Peers are validated against every root of the trust bundle; host names are not
 * checked (SPIFFE certificates carry URI SANs, which callers compare to the expected identity).
 */
public final class TlsContexts {

    private static final Logger log = LoggerFactory.getLogger(TlsContexts.class);
    private static final String TLS13 = "TLSv1.3";
    private static final ApplicationProtocolConfig ALPN = new ApplicationProtocolConfig(
            ApplicationProtocolConfig.Protocol.ALPN,
            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
            ApplicationProtocolNames.HTTP_2);

    private final IdentityProvider identities;
    private final SslProvider provider;
    private final ConcurrentHashMap<SpiffeId, Entry> clients = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<SpiffeId, Entry> servers = new ConcurrentHashMap<>();

    private record Entry(CertifiedKey key, List<X509Certificate> bundle, SslContext context) {}

    public TlsContexts(IdentityProvider identities) {
        this.identities = requireNonNull(identities, "identities");
        this.provider = provider();
        log.info("HBONE TLS provider: {}", provider);
    }

    /** BoringSSL when netty-tcnative loads, else the JDK. */
    public static SslProvider provider() {
        return OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
    }

    public SslProvider sslProvider() {
        return provider;
    }

    /** The client context presenting {@code id}'s certificate; empty when this node holds none. */
    public Optional<SslContext> client(SpiffeId id) {
        return context(id, clients, true);
    }

    /** The server context presenting {@code id}'s certificate; empty when this node holds none. */
    public Optional<SslContext> server(SpiffeId id) {
        return context(id, servers, false);
    }

    private Optional<SslContext> context(SpiffeId id, ConcurrentHashMap<SpiffeId, Entry> cache, boolean client) {
        Optional<CertifiedKey> key = identities.certificate(id);
        if (key.isEmpty()) {
            return Optional.empty();
        }
        List<X509Certificate> bundle = identities.trustBundle();
        Entry e = cache.get(id);
        if (e != null && e.key.equals(key.get()) && e.bundle.equals(bundle)) {
            return Optional.of(e.context);
        }
        SslContext ctx = build(key.get(), bundle, client);
        cache.put(id, new Entry(key.get(), List.copyOf(bundle), ctx));
        return Optional.of(ctx);
    }

    private SslContext build(CertifiedKey key, List<X509Certificate> bundle, boolean client) {
        if (bundle.isEmpty()) {
            throw new IllegalStateException("trust bundle: empty (expected: at least one root)");
        }
        X509Certificate[] chain = key.chain().toArray(X509Certificate[]::new);
        X509Certificate[] roots = bundle.toArray(X509Certificate[]::new);
        // Not keyManager(key, chain): that builds a password-protected PKCS#12 keystore (PBKDF2 twice) per context.
        KeyManagerFactory keys = FixedKeyManagerFactory.of(key.key(), chain);
        if (provider != SslProvider.JDK) { // BoringSSL: the native key material is made once, at the first handshake
            keys = new OpenSslCachingX509KeyManagerFactory(keys);
        }
        SslContextBuilder b = client
                ? SslContextBuilder.forClient().keyManager(keys).endpointIdentificationAlgorithm(null)
                : SslContextBuilder.forServer(keys).clientAuth(ClientAuth.REQUIRE);
        try {
            return b.sslProvider(provider)
                    .protocols(TLS13)
                    .trustManager(roots)
                    .ciphers(Http2SecurityUtil.CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
                    .applicationProtocolConfig(ALPN)
                    .build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot build TLS context for " + key.id() + ": " + e.getMessage(), e);
        }
    }
}
