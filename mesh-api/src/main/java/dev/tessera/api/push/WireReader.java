package dev.tessera.api.push;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.netty.buffer.ByteBuf;
import java.io.ByteArrayInputStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads what {@link WireWriter} wrote, checking every length against what is left of the frame: a
 * truncated or inconsistent field throws a {@link ProtocolException} naming the field and what was
 * expected. Never reads past the frame, never allocates more than the frame holds.
 */
public final class WireReader {

    /** A field's reader (lambdas that may throw). */
    @FunctionalInterface
    public interface Element<T> {
        T read(WireReader in, String field) throws ProtocolException;
    }

    private final ByteBuf in;
    private final Map<String, String> shared = new HashMap<>();
    private final Map<String, Object> parsed = new HashMap<>();

    public WireReader(ByteBuf in) {
        this.in = in;
    }

    private void need(String field, int bytes) throws ProtocolException {
        if (in.readableBytes() < bytes) {
            throw new ProtocolException(field + ": truncated (expected: " + bytes + " more bytes, got "
                    + in.readableBytes() + ")");
        }
    }

    public int u8(String field) throws ProtocolException {
        need(field, 1);
        return in.readUnsignedByte();
    }

    public boolean bool(String field) throws ProtocolException {
        int b = u8(field);
        if (b > 1) {
            throw new ProtocolException(field + ": " + b + " (expected: 0 or 1)");
        }
        return b == 1;
    }

    public int u16(String field) throws ProtocolException {
        need(field, 2);
        return in.readUnsignedShort();
    }

    /** A u32 that must fit a non-negative int. */
    public int u32(String field) throws ProtocolException {
        need(field, 4);
        int v = in.readInt();
        if (v < 0) {
            throw new ProtocolException(field + ": " + Integer.toUnsignedString(v) + " (expected: 0-" + Integer.MAX_VALUE + ")");
        }
        return v;
    }

    /** A signed 32-bit value (e.g. an IPv4 address). */
    public int i32(String field) throws ProtocolException {
        need(field, 4);
        return in.readInt();
    }

    public long u64(String field) throws ProtocolException {
        need(field, 8);
        return in.readLong();
    }

    /** An unsigned LEB128 varint of at most 5 bytes that fits a non-negative int (see {@link WireWriter#varint}). */
    public int varint(String field) throws ProtocolException {
        int v = 0;
        for (int shift = 0; shift < 35; shift += 7) {
            int b = u8(field);
            v |= (b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                if (v < 0 || (shift == 28 && b > 0x07)) {
                    throw new ProtocolException(field + ": varint out of range (expected: 0-" + Integer.MAX_VALUE + ")");
                }
                return v;
            }
        }
        throw new ProtocolException(field + ": varint longer than 5 bytes (expected: at most 5)");
    }

    /** A string written by {@link WireWriter#shortString}. */
    public String shortString(String field) throws ProtocolException {
        int n = varint(field + ".length");
        need(field, n);
        byte[] b = new byte[n];
        in.readBytes(b);
        return text(field, b);
    }

    /** How many bytes are left in the frame. */
    public int remaining() {
        return in.readableBytes();
    }

    public byte[] bytes(String field) throws ProtocolException {
        int n = u32(field + ".length");
        need(field, n);
        byte[] b = new byte[n];
        in.readBytes(b);
        return b;
    }

    public String string(String field) throws ProtocolException {
        return text(field, bytes(field));
    }

    private static String text(String field, byte[] b) throws ProtocolException {
        if (ascii(b)) { // the common case (names, labels, addresses): no decoder needed
            return new String(b, java.nio.charset.StandardCharsets.ISO_8859_1);
        }
        try {
            return UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw new ProtocolException(field + ": invalid text (expected: UTF-8)");
        }
    }

    private static boolean ascii(byte[] b) {
        for (byte x : b) {
            if (x < 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * A string that repeats across a frame (namespace, node, service account, SPIFFE id): one instance per
     * distinct value, so 50,000 pods of a few namespaces hold a few strings, not 50,000 copies.
     */
    public String sharedString(String field) throws ProtocolException {
        String s = string(field);
        return shared.computeIfAbsent(s, k -> k);
    }

    /** Per-frame cache of repeated values (strings and parsed objects such as SPIFFE ids). */
    @SuppressWarnings("unchecked")
    public <T> T cached(String key, java.util.function.Function<String, T> parse) {
        return (T) parsed.computeIfAbsent(key, parse);
    }

    public String optionalString(String field) throws ProtocolException {
        return bool(field + ".present") ? string(field) : null;
    }

    public InetAddress inet(String field) throws ProtocolException {
        int n = u8(field + ".length");
        if (n != 4 && n != 16) {
            throw new ProtocolException(field + ".length: " + n + " (expected: 4 or 16)");
        }
        need(field, n);
        byte[] b = new byte[n];
        in.readBytes(b);
        try {
            return InetAddress.getByAddress(b);
        } catch (UnknownHostException e) {
            throw new ProtocolException(field + ": " + e.getMessage());
        }
    }

    /** A count of elements that each take at least {@code minBytes}: never more than the frame can hold. */
    public int count(String field, int minBytes) throws ProtocolException {
        int n = u32(field + ".count");
        if ((long) n * minBytes > in.readableBytes()) {
            throw new ProtocolException(field + ".count: " + n + " (expected: at most "
                    + in.readableBytes() / Math.max(1, minBytes) + " for the " + in.readableBytes() + " bytes left)");
        }
        return n;
    }

    public <T> List<T> list(String field, int minBytes, Element<T> element) throws ProtocolException {
        int n = count(field, minBytes);
        var out = new ArrayList<T>(n);
        for (int i = 0; i < n; i++) {
            out.add(element.read(this, field + "[" + i + "]"));
        }
        return out;
    }

    public List<String> strings(String field) throws ProtocolException {
        return list(field, 4, WireReader::string);
    }

    public Map<String, String> stringMap(String field) throws ProtocolException {
        int n = count(field, 8);
        var out = new HashMap<String, String>(n * 2);
        for (int i = 0; i < n; i++) {
            String k = string(field + ".key");
            String v = string(field + "[" + k + "]");
            if (out.put(k, v) != null) {
                throw new ProtocolException(field + ": duplicate key '" + k + "' (expected: unique keys)");
            }
        }
        return out;
    }

    public Map<String, String> optionalStringMap(String field) throws ProtocolException {
        return bool(field + ".present") ? stringMap(field) : null;
    }

    public List<X509Certificate> certificates(String field) throws ProtocolException {
        return list(field, 4, (r, f) -> {
            byte[] der = r.bytes(f);
            try {
                return (X509Certificate) CertificateFactory.getInstance("X.509")
                        .generateCertificate(new ByteArrayInputStream(der));
            } catch (CertificateException | ClassCastException e) {
                throw new ProtocolException(f + ": not a DER X.509 certificate (" + e.getMessage() + ")");
            }
        });
    }

    /** An enum constant by name. */
    public <E extends Enum<E>> E enumName(String field, Class<E> type) throws ProtocolException {
        String s = string(field);
        try {
            return Enum.valueOf(type, s);
        } catch (IllegalArgumentException e) {
            throw new ProtocolException(field + ": '" + s + "' (expected: one of "
                    + java.util.Arrays.toString(type.getEnumConstants()) + ")");
        }
    }

    /** Fails if the frame has bytes left after its last field. */
    /** Skips what is left of the frame (fields of a newer version this reader does not know). */
    public void skipRest() {
        in.skipBytes(in.readableBytes());
    }

    public void end(String what) throws ProtocolException {
        if (in.isReadable()) {
            throw new ProtocolException(what + ": " + in.readableBytes() + " trailing bytes (expected: none)");
        }
    }
}
