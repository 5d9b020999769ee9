package dev.tessera.agent.tls;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslCachingX509KeyManagerFactory;
import io.netty.util.ReferenceCountUtil;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.nio.ByteBuffer;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.X509ExtendedKeyManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class FixedKeyManagerFactoryTest {

    private static final CertificateAuthority CA = CertificateAuthority.generate("cluster.local");
    private static final SpiffeId CLIENT = new SpiffeId("cluster.local", "shop", "web");
    private static final SpiffeId SERVER = new SpiffeId("cluster.local", "shop", "db");

    private record Issued(KeyPair keys, X509Certificate[] chain) {}

    private static Issued issue(SpiffeId id) {
        KeyPair kp = CertificateAuthority.newKeyPair();
        X509Certificate leaf = CA.sign(CertificateAuthority.csr(kp, id), id, Duration.ofHours(1));
        return new Issued(kp, new X509Certificate[] {leaf, CA.certificate()});
    }

    @Test
    void offersItsKeyForTheKeyTypesOfItsAlgorithmOnly() {
        Issued i = issue(SERVER);
        var km = (X509ExtendedKeyManager) FixedKeyManagerFactory.of(i.keys().getPrivate(), i.chain()).getKeyManagers()[0];

        assertThat(km.chooseEngineServerAlias("EC", null, null)).isEqualTo(FixedKeyManagerFactory.ALIAS);
        assertThat(km.chooseEngineServerAlias("EC_EC", null, null)).isEqualTo(FixedKeyManagerFactory.ALIAS);
        assertThat(km.chooseEngineServerAlias("RSA", null, null)).isNull();
        assertThat(km.chooseEngineClientAlias(new String[] {"RSA", "EC"}, null, null)).isEqualTo(FixedKeyManagerFactory.ALIAS);
        assertThat(km.chooseEngineClientAlias(new String[] {"RSA"}, null, null)).isNull();
        assertThat(km.getPrivateKey(FixedKeyManagerFactory.ALIAS)).isSameAs(i.keys().getPrivate());
        assertThat(km.getCertificateChain(FixedKeyManagerFactory.ALIAS)).containsExactly(i.chain());
        assertThat(km.getPrivateKey("other")).isNull();
        assertThat(km.getCertificateChain("other")).isNull();
    }

    /** A mutual TLS 1.3 handshake between contexts built as {@link TlsContexts} builds them: each side sees the other's identity. */
    @ParameterizedTest
    @EnumSource(value = SslProvider.class, names = {"JDK", "OPENSSL"})
    void bothSidesPresentTheirCertificatesInAMutualHandshake(SslProvider provider) throws Exception {
        if (provider == SslProvider.OPENSSL) {
            assertThat(OpenSsl.isAvailable()).as("netty-tcnative (BoringSSL) loads here").isTrue();
        }
        Issued c = issue(CLIENT);
        Issued s = issue(SERVER);
        SslContext client = SslContextBuilder.forClient().keyManager(keys(c, provider)).sslProvider(provider)
                .protocols("TLSv1.3").trustManager(CA.certificate()).endpointIdentificationAlgorithm(null).build();
        SslContext server = SslContextBuilder.forServer(keys(s, provider)).sslProvider(provider).protocols("TLSv1.3")
                .trustManager(CA.certificate()).clientAuth(ClientAuth.REQUIRE).build();
        SSLEngine ce = client.newEngine(ByteBufAllocator.DEFAULT);
        SSLEngine se = server.newEngine(ByteBufAllocator.DEFAULT);
        try {
            handshake(ce, se);
            assertThat(((X509Certificate) ce.getSession().getPeerCertificates()[0])).isEqualTo(s.chain()[0]);
            assertThat(((X509Certificate) se.getSession().getPeerCertificates()[0])).isEqualTo(c.chain()[0]);
        } finally {
            ReferenceCountUtil.release(ce);
            ReferenceCountUtil.release(se);
            ReferenceCountUtil.release(client);
            ReferenceCountUtil.release(server);
        }
    }

    private static KeyManagerFactory keys(Issued i, SslProvider provider) {
        KeyManagerFactory f = FixedKeyManagerFactory.of(i.keys().getPrivate(), i.chain());
        return provider == SslProvider.JDK ? f : new OpenSslCachingX509KeyManagerFactory(f);
    }

    /** Runs both engines until neither needs anything, moving each one's output to the other's input. */
    private static void handshake(SSLEngine client, SSLEngine server) throws Exception {
        ByteBuffer empty = ByteBuffer.allocate(0);
        ByteBuffer toServer = ByteBuffer.allocate(64 * 1024);
        ByteBuffer toClient = ByteBuffer.allocate(64 * 1024);
        ByteBuffer sink = ByteBuffer.allocate(64 * 1024);
        client.beginHandshake();
        server.beginHandshake();
        for (int i = 0; i < 100; i++) {
            boolean progressed = step(client, empty, toServer, toClient, sink)
                    | step(server, empty, toClient, toServer, sink);
            if (done(client) && done(server) && toServer.position() == 0 && toClient.position() == 0) {
                return;
            }
            assertThat(progressed).as("handshake progresses (client %s, server %s)", client.getHandshakeStatus(),
                    server.getHandshakeStatus()).isTrue();
        }
        throw new AssertionError("handshake did not finish");
    }

    private static boolean done(SSLEngine e) {
        HandshakeStatus h = e.getHandshakeStatus();
        return h == HandshakeStatus.NOT_HANDSHAKING || h == HandshakeStatus.FINISHED;
    }

    /** One engine's turn: run its tasks, wrap into {@code out}, unwrap what {@code in} holds. */
    private static boolean step(SSLEngine e, ByteBuffer empty, ByteBuffer out, ByteBuffer in, ByteBuffer sink)
            throws Exception {
        boolean progressed = false;
        Runnable task;
        while ((task = e.getDelegatedTask()) != null) {
            task.run();
            progressed = true;
        }
        // always offered a wrap: BoringSSL's client reports the handshake done while its last flight is still unsent
        progressed |= e.wrap(empty, out).bytesProduced() > 0;
        in.flip();
        while (in.hasRemaining()) {
            var r = e.unwrap(in, sink);
            sink.clear();
            if (r.bytesConsumed() == 0) {
                break;
            }
            progressed = true;
            while ((task = e.getDelegatedTask()) != null) {
                task.run();
            }
        }
        in.compact();
        return progressed;
    }
}
