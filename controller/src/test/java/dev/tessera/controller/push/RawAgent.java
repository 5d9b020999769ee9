package dev.tessera.controller.push;

import dev.tessera.api.push.Frames;
import dev.tessera.api.push.Message;
import dev.tessera.api.push.ProtocolException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/** A blocking test peer speaking the push protocol over the JDK's TLS: reads only when told to. */
public final class RawAgent implements AutoCloseable {

    final SSLSocket socket;
    private final DataInputStream in;
    private final DataOutputStream out;

    public RawAgent(int port, List<X509Certificate> roots, int receiveBuffer) throws IOException, GeneralSecurityException {
        this(port, roots, receiveBuffer, "127.0.0.1");
    }

    /** A peer dialling from {@code localAddress} (any 127.x address: a different source to the server). */
    RawAgent(int port, List<X509Certificate> roots, int receiveBuffer, String localAddress)
            throws IOException, GeneralSecurityException {
        var ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        for (int i = 0; i < roots.size(); i++) {
            ks.setCertificateEntry("root" + i, roots.get(i));
        }
        var tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        var ssl = SSLContext.getInstance("TLSv1.3");
        ssl.init(null, tmf.getTrustManagers(), null);
        socket = (SSLSocket) ssl.getSocketFactory().createSocket();
        if (receiveBuffer > 0) {
            socket.setReceiveBufferSize(receiveBuffer);
        }
        socket.bind(new InetSocketAddress(localAddress, 0));
        socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        socket.setSoTimeout(20_000);
        in = new DataInputStream(socket.getInputStream());
        out = new DataOutputStream(socket.getOutputStream());
    }

    public void send(Message m) throws IOException {
        ByteBuf b = Unpooled.buffer();
        try {
            Frames.encode(m, b);
            out.write(ByteBufUtil.getBytes(b));
            out.flush();
        } finally {
            b.release();
        }
    }

    /** Sends this build's HELLO (protocol {@link Frames#PROTOCOL_VERSION}) and reads the WELCOME that answers it. */
    public void hello(String node, String token) throws IOException {
        send(new Message.Hello(Frames.PROTOCOL_VERSION, node, token, 0, 0));
        expectWelcome();
    }

    /** Reads one frame: the WELCOME of this build's protocol version. */
    void expectWelcome() throws IOException {
        Message m = read();
        if (!(m instanceof Message.Welcome w) || w.protocolVersion() != Frames.PROTOCOL_VERSION) {
            throw new AssertionError("expected: WELCOME of protocol " + Frames.PROTOCOL_VERSION + ", got " + m);
        }
    }

    /** Writes bytes as they are (frames of another protocol version, malformed frames). */
    void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** Reads one frame undecoded: type and payload, without the length field. */
    byte[] readRaw() throws IOException {
        int length = in.readInt();
        byte[] frame = new byte[length];
        in.readFully(frame);
        return frame;
    }

    public Message read() throws IOException {
        int length = in.readInt();
        byte[] frame = new byte[length];
        in.readFully(frame);
        ByteBuf b = Unpooled.wrappedBuffer(frame);
        try {
            return Frames.decode(b);
        } catch (ProtocolException e) {
            throw new IOException(e);
        } finally {
            b.release();
        }
    }

    /**
     * Reads one frame, undecoded, whose first {@code slowBytes} come {@code chunk} bytes at a time with
     * {@code pauseMillis} between reads (a slow agent), the rest at once.
     */
    byte[] readSlowly(int chunk, long pauseMillis, int slowBytes) throws IOException, InterruptedException {
        int length = in.readInt();
        byte[] frame = new byte[length];
        int at = 0;
        while (at < Math.min(slowBytes, length)) {
            int n = Math.min(chunk, length - at);
            in.readFully(frame, at, n);
            at += n;
            Thread.sleep(pauseMillis);
        }
        in.readFully(frame, at, length - at);
        return frame;
    }

    /** Decodes a frame read by {@link #readSlowly} (type and payload). */
    static Message decode(byte[] frame) throws IOException {
        ByteBuf b = Unpooled.wrappedBuffer(frame);
        try {
            return Frames.decode(b);
        } catch (ProtocolException e) {
            throw new IOException(e);
        } finally {
            b.release();
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
