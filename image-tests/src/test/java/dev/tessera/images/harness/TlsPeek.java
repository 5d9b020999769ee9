package dev.tessera.images.harness;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.X509TrustManager;

/**
 * The certificate chain a TLS 1.3 server presents for a server name (SNI), read by a client that trusts
 * nothing and presents no certificate: the chain is recorded when it arrives, before the server gets to
 * refuse the missing client certificate (HBONE on 15008 requires one). It answers "which certificate does the
 * agent hold for this identity" from outside the container, without the agent's keys.
 */
public final class TlsPeek {

    private TlsPeek() {}

    /** The chain {@code ip:port} presents for {@code sni}; fails when none arrived. */
    public static List<X509Certificate> serverChain(String ip, int port, String sni) throws Exception {
        var seen = new AtomicReference<X509Certificate[]>();
        X509TrustManager recorder = new X509TrustManager() {
            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
                seen.set(chain.clone()); // only recorded: the test verifies it against the CA itself
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {
                throw new UnsupportedOperationException("client side only");
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
        SSLContext ctx = SSLContext.getInstance("TLSv1.3");
        ctx.init(null, new X509TrustManager[] {recorder}, null);
        try (var socket = (SSLSocket) ctx.getSocketFactory().createSocket()) {
            socket.connect(new InetSocketAddress(ip, port), 3_000);
            socket.setSoTimeout(5_000);
            var params = socket.getSSLParameters();
            params.setServerNames(List.of(new SNIHostName(sni)));
            params.setProtocols(new String[] {"TLSv1.3"});
            socket.setSSLParameters(params);
            try {
                socket.startHandshake();
                socket.getInputStream().read(); // the server's verdict on our (missing) client certificate
            } catch (IOException expected) {
                // refused for lacking a client certificate, after the server's chain arrived
            }
        }
        X509Certificate[] chain = seen.get();
        if (chain == null) {
            throw new IOException(ip + ":" + port + " presented no certificate for SNI " + sni);
        }
        return List.of(chain);
    }
}
