package dev.tessera.controller.local;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.controller.identity.IssuingCa;
import dev.tessera.controller.identity.RotationDriver;
import dev.tessera.controller.identity.TrustRotation;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Root rotations of a local cluster: {@code tessera local rotate-root} puts a new root in
 * {@code <ca-dir>/}{@value #DIR}{@code /} ({@code ca.crt}, {@code ca.key}, optional {@value #OVERLAP_FILE}
 * holding an ISO-8601 duration) and appends it to {@code <ca-dir>/ca.crt}, the file agents verify the
 * controller with. The controller derives an issuing intermediate under it there; when the rotation is done
 * the new root becomes the cluster's root ({@code ca.crt} = the new root only, {@code ca.key},
 * {@code issuing.*}) and the request directory is removed, so a restart keeps the new root.
 */
public final class LocalRotationRequests implements RotationDriver.Requests {

    private static final Logger log = LoggerFactory.getLogger(LocalRotationRequests.class);

    /** The request directory under the CA directory. */
    public static final String DIR = "rotation";
    /** The overlap of the request, an ISO-8601 duration such as {@code PT10S}. */
    public static final String OVERLAP_FILE = "overlap";

    private final Path caDir;
    private final String trustDomain;
    private volatile String failed; // the last failure, logged once
    private final java.util.concurrent.atomic.AtomicLong failures = new java.util.concurrent.atomic.AtomicLong();

    public LocalRotationRequests(Path caDir, String trustDomain) {
        this.caDir = requireNonNull(caDir, "caDir");
        this.trustDomain = requireNonNull(trustDomain, "trustDomain");
    }

    @Override
    public Optional<RotationDriver.Request> poll() {
        Path dir = caDir.resolve(DIR);
        if (!Files.isRegularFile(dir.resolve(CertificateAuthority.CERT_FILE))
                || !Files.isRegularFile(dir.resolve(CertificateAuthority.KEY_FILE))) {
            return Optional.empty();
        }
        try {
            IssuingCa next = LocalCa.load(dir, trustDomain);
            Duration overlap = RotationDriver.DEFAULT_OVERLAP;
            Path o = dir.resolve(OVERLAP_FILE);
            if (Files.isRegularFile(o)) {
                overlap = Duration.parse(Files.readString(o).trim());
            }
            failed = null;
            return Optional.of(new RotationDriver.Request(next, overlap));
        } catch (IOException | IllegalArgumentException | DateTimeParseException e) {
            String why = dir + ": " + e.getMessage();
            if (!why.equals(failed)) {
                log.warn("root rotation request unusable: {}", why);
                failed = why;
                failures.incrementAndGet();
            }
            return Optional.empty();
        }
    }

    @Override
    public String rejected() {
        return failed;
    }

    @Override
    public long rejections() {
        return failures.get();
    }

    @Override
    public void completed(TrustRotation.Status status) {
        Path dir = caDir.resolve(DIR);
        try {
            for (String f : new String[] {CertificateAuthority.KEY_FILE, LocalCa.ISSUING_KEY, LocalCa.ISSUING_CRT,
                    CertificateAuthority.CERT_FILE}) {
                Path tmp = caDir.resolve(f + ".rotated");
                Files.copy(dir.resolve(f), tmp, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.COPY_ATTRIBUTES);
                Files.move(tmp, caDir.resolve(f), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(dir);
            log.info("root rotation persisted: {} now holds the new root only", caDir.resolve(CertificateAuthority.CERT_FILE));
        } catch (IOException e) {
            log.warn("root rotation done but not persisted in {} ({}); a restart would trust the old root again", caDir,
                    e.toString());
        }
    }
}
