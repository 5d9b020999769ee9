package dev.tessera.controller.local;

import dev.tessera.api.identity.CertificateAuthority.Pem;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.controller.identity.IssuingCa;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * The issuing CA of local mode, from the CA directory {@code tessera local up} creates ({@code ca.crt},
 * {@code ca.key}: the root; optional {@code trust-bundle.crt}: further roots). Workload certificates are
 * signed by an issuing intermediate derived from that root and persisted next to it as
 * {@value #ISSUING_CRT} / {@value #ISSUING_KEY} (mode 0600), so restarts keep the same issuer; it is
 * re-derived when missing, no longer chaining to the root, or within {@link #RENEW_BEFORE} of expiry.
 */
public final class LocalCa {

    /** The persisted intermediate certificate. */
    public static final String ISSUING_CRT = "issuing.crt";
    /** The persisted intermediate key. */
    public static final String ISSUING_KEY = "issuing.key";
    /** Lifetime of a derived intermediate. */
    public static final Duration VALIDITY = Duration.ofDays(365);
    /** A persisted intermediate this close to expiry is replaced. */
    public static final Duration RENEW_BEFORE = Duration.ofDays(30);

    private LocalCa() {}

    /**
     * Loads (or derives and persists) the issuing CA of {@code caDir}.
     *
     * @throws IOException naming the file when the root cannot be read
     */
    public static IssuingCa load(Path caDir, String trustDomain) throws IOException {
        CertificateAuthority root = CertificateAuthority.load(caDir);
        List<X509Certificate> bundle = CertificateAuthority.trustBundle(caDir);
        String roots = Pem.write(bundle.toArray());
        Path crt = caDir.resolve(ISSUING_CRT);
        Path key = caDir.resolve(ISSUING_KEY);
        if (Files.isRegularFile(crt) && Files.isRegularFile(key)) {
            try {
                IssuingCa ca = IssuingCa.fromPem(Files.readString(crt), Files.readString(key), roots);
                Instant renewAt = ca.issuingCertificate().getNotAfter().toInstant().minus(RENEW_BEFORE);
                if (Instant.now().isBefore(renewAt)) {
                    return ca;
                }
            } catch (IllegalArgumentException e) {
                // e.g. the root was replaced: derive a new intermediate below
                org.slf4j.LoggerFactory.getLogger(LocalCa.class).warn("{}: {}; deriving a new one", crt, e.getMessage());
            }
        }
        CertificateAuthority issuing = root.newIntermediate(trustDomain, VALIDITY);
        Path tmp = caDir.resolve(ISSUING_KEY + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, Pem.write(issuing.privateKey()));
        Files.writeString(crt, Pem.write(issuing.certificate()));
        Files.move(tmp, key, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return IssuingCa.fromPem(Pem.write(issuing.certificate()), Pem.write(issuing.privateKey()), roots);
    }
}
