package dev.tessera.agent.tls;

import static java.util.Objects.requireNonNull;

import io.netty.handler.ssl.util.KeyManagerFactoryWrapper;
import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * A key manager factory over one key and its chain, held as they are. {@code SslContextBuilder.keyManager(key,
 * chain)} instead puts them into a PKCS#12 keystore under a password, which encrypts the key with
 * PBKDF2 (10,000 HMAC-SHA256 iterations) and decrypts it again in the factory's {@code init}: twice per TLS context,
 * and the agent builds a client and a server context per local identity, lazily on the first connection that
 * needs one, on the event loop, and again after every certificate renewal. A keystore that never leaves the
 * process protects nothing by its password; this factory hands the key to the TLS provider without it.
 */
final class FixedKeyManagerFactory {

    static final String ALIAS = "tessera";

    private FixedKeyManagerFactory() {}

    /** A factory whose one key manager offers {@code key} and {@code chain} (Netty's wrapper: no keystore). */
    static KeyManagerFactory of(PrivateKey key, X509Certificate[] chain) {
        return new KeyManagerFactoryWrapper(new FixedKeyManager(key, chain));
    }

    /** Offers its one key for the key types of its algorithm ("EC", and "EC_EC"-style forms of TLS 1.2 suites). */
    static final class FixedKeyManager extends X509ExtendedKeyManager {
        private final PrivateKey key;
        private final X509Certificate[] chain;
        private final String algorithm;

        FixedKeyManager(PrivateKey key, X509Certificate[] chain) {
            this.key = requireNonNull(key, "key");
            this.chain = requireNonNull(chain, "chain").clone();
            if (chain.length == 0) {
                throw new IllegalArgumentException("chain: empty (expected: the certificate of the key first)");
            }
            this.algorithm = key.getAlgorithm();
        }

        boolean matches(String keyType) {
            return keyType != null && (keyType.equals(algorithm) || keyType.startsWith(algorithm + "_"));
        }

        private String alias(String... keyTypes) {
            if (keyTypes != null) {
                for (String t : keyTypes) {
                    if (matches(t)) {
                        return ALIAS;
                    }
                }
            }
            return null;
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return matches(keyType) ? new String[] {ALIAS} : null;
        }

        @Override
        public String chooseClientAlias(String[] keyTypes, Principal[] issuers, Socket socket) {
            return alias(keyTypes);
        }

        @Override
        public String chooseEngineClientAlias(String[] keyTypes, Principal[] issuers, SSLEngine engine) {
            return alias(keyTypes);
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return matches(keyType) ? new String[] {ALIAS} : null;
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return alias(keyType);
        }

        @Override
        public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
            return alias(keyType);
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return ALIAS.equals(alias) ? chain.clone() : null;
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return ALIAS.equals(alias) ? key : null;
        }
    }
}
