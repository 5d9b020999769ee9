package dev.tessera.api.push;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.netty.buffer.ByteBuf;
import java.net.InetAddress;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiConsumer;

/**
 * Writes protocol fields into a {@link ByteBuf}, big-endian (network order): integers at fixed width,
 * strings and byte strings as u32 length + bytes (UTF-8), collections as u32 count + elements, optional
 * values behind a u8 presence flag. Maps are written in key order so equal maps encode to equal bytes.
 */
public final class WireWriter {

    private final ByteBuf out;

    public WireWriter(ByteBuf out) {
        this.out = out;
    }

    public ByteBuf buffer() {
        return out;
    }

    public WireWriter u8(int v) {
        out.writeByte(v);
        return this;
    }

    public WireWriter bool(boolean v) {
        out.writeByte(v ? 1 : 0);
        return this;
    }

    public WireWriter u16(int v) {
        out.writeShort(v);
        return this;
    }

    public WireWriter u32(int v) {
        out.writeInt(v);
        return this;
    }

    public WireWriter u64(long v) {
        out.writeLong(v);
        return this;
    }

    /**
     * An unsigned LEB128 varint: 7 bits a byte, low bits first, high bit set on every byte but the last
     * (protocol 3's compact node view; the fixed-width fields above are unchanged).
     */
    public WireWriter varint(int v) {
        if (v < 0) {
            throw new IllegalArgumentException("varint: " + v + " (expected: 0-" + Integer.MAX_VALUE + ")");
        }
        while ((v & ~0x7f) != 0) {
            out.writeByte((v & 0x7f) | 0x80);
            v >>>= 7;
        }
        out.writeByte(v);
        return this;
    }

    /** A string as varint length + UTF-8 bytes (protocol 3's compact node view). */
    public WireWriter shortString(String s) {
        byte[] b = s.getBytes(UTF_8);
        varint(b.length);
        out.writeBytes(b);
        return this;
    }

    public WireWriter bytes(byte[] b) {
        out.writeInt(b.length);
        out.writeBytes(b);
        return this;
    }

    public WireWriter string(String s) {
        return bytes(s.getBytes(UTF_8));
    }

    /** A string that may be null (u8 presence flag). */
    public WireWriter optionalString(String s) {
        bool(s != null);
        return s == null ? this : string(s);
    }

    /** An address: u8 length (4 or 16) + bytes. */
    public WireWriter inet(InetAddress a) {
        byte[] b = a.getAddress();
        out.writeByte(b.length);
        out.writeBytes(b);
        return this;
    }

    public <T> WireWriter list(Collection<T> items, BiConsumer<WireWriter, T> element) {
        out.writeInt(items.size());
        for (T t : items) {
            element.accept(this, t);
        }
        return this;
    }

    public WireWriter strings(Collection<String> items) {
        return list(items, WireWriter::string);
    }

    public WireWriter stringMap(Map<String, String> map) {
        out.writeInt(map.size());
        new TreeMap<>(map).forEach((k, v) -> {
            string(k);
            string(v);
        });
        return this;
    }

    /** A map that may be null (u8 presence flag). */
    public WireWriter optionalStringMap(Map<String, String> map) {
        bool(map != null);
        return map == null ? this : stringMap(map);
    }

    /** Certificates as DER byte strings. */
    public WireWriter certificates(Collection<X509Certificate> certs) {
        out.writeInt(certs.size());
        for (X509Certificate c : certs) {
            try {
                bytes(c.getEncoded());
            } catch (CertificateEncodingException e) {
                throw new IllegalArgumentException("certificate: cannot encode "
                        + c.getSubjectX500Principal().getName() + ": " + e.getMessage(), e);
            }
        }
        return this;
    }
}
