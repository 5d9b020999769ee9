package dev.tessera.tests.harness;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.SplittableRandom;

/**
 * Test payloads: every 64-byte block is a 32-byte plaintext marker followed by 32 pseudo-random bytes,
 * so any 96 consecutive payload bytes contain the whole marker (a short-snaplen capture of any segment
 * of plaintext shows it), and the data does not compress.
 */
public final class Payload {

    /** Exactly 32 ASCII bytes. */
    public static final byte[] MARKER = "TESSERA-PLAINTEXT-MARKER-4f1c9e2".getBytes(StandardCharsets.US_ASCII);

    private Payload() {}

    /** Writes {@code length} bytes seeded by {@code seed}; returns their SHA-256. */
    public static byte[] write(OutputStream out, long length, long seed) throws IOException {
        MessageDigest sha = sha256();
        var random = new SplittableRandom(seed);
        byte[] buf = new byte[64 * 1024];
        long left = length;
        while (left > 0) {
            fill(buf, random);
            int n = (int) Math.min(buf.length, left);
            out.write(buf, 0, n);
            sha.update(buf, 0, n);
            left -= n;
        }
        out.flush();
        return sha.digest();
    }

    /** Reads exactly {@code length} bytes; returns their SHA-256. */
    public static byte[] read(InputStream in, long length) throws IOException {
        MessageDigest sha = sha256();
        byte[] buf = new byte[64 * 1024];
        long left = length;
        while (left > 0) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, left));
            if (n < 0) {
                throw new IOException("EOF after " + (length - left) + " of " + length + " bytes");
            }
            sha.update(buf, 0, n);
            left -= n;
        }
        return sha.digest();
    }

    private static void fill(byte[] buf, SplittableRandom random) {
        for (int off = 0; off < buf.length; off += 64) {
            System.arraycopy(MARKER, 0, buf, off, 32);
            for (int i = 32; i < 64; i += 8) {
                long v = random.nextLong();
                for (int k = 0; k < 8; k++) {
                    buf[off + i + k] = (byte) (v >>> (8 * k));
                }
            }
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
