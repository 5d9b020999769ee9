package dev.tessera.agent.connection;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.ReferenceCountUtil;

/**
 * A relay endpoint on an HBONE stream (an HTTP/2 stream channel after the CONNECT exchange). DATA frames
 * carry the bytes; END_STREAM is the half-close; RST_STREAM and the stream channel closing early abort
 * the TCP side. The stream's flow-control window is returned as frames are read, which only happens
 * while the TCP side is writable.
 */
public final class StreamEndpoint extends RelayEndpoint {

    public StreamEndpoint(Channel stream, RelaySession session, boolean sourceSide, CloseReason resetReason) {
        super(stream, session, sourceSide, resetReason);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2DataFrame data) {
            boolean end = data.isEndStream();
            ByteBuf content = data.content();
            if (content.isReadable()) {
                forward(content); // the frame's only resource is its content: ownership passes on
            } else {
                data.release();
            }
            if (end) {
                inputEnded();
            }
        } else if (msg instanceof Http2HeadersFrame headers) {
            if (headers.isEndStream()) { // trailers
                inputEnded();
            }
        } else if (msg instanceof Http2ResetFrame) {
            inputDone = true;
            outputDone = true; // the stream is gone both ways
            session.fail(resetReason);
            peer.abort();
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    protected void write(ByteBuf data) {
        channel.write(new DefaultHttp2DataFrame(data, false), channel.voidPromise());
    }

    @Override
    protected void finish() {
        outputDone = true;
        channel.writeAndFlush(new DefaultHttp2DataFrame(true));
    }

    @Override
    protected void abort() {
        channel.close(); // RST_STREAM (CANCEL) unless the stream is already closed
    }
}
