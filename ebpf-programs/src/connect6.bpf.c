// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cgroup/connect6: the same capture for IPv4-mapped destinations (::ffff:a.b.c.d) on dual-stack
 * AF_INET6 sockets, which is how Java, Go and others connect to IPv4 peers: connect4 never sees them.
 * Native IPv6 destinations are not captured (the mesh is IPv4).
 */
#include "tessera_redirect.h"

SEC("cgroup/connect6")
int tsr_connect6(struct bpf_sock_addr *ctx)
{
	struct tsr_addr4 target = {};
	__u32 ip6[4];

	ip6[0] = ctx->user_ip6[0];
	ip6[1] = ctx->user_ip6[1];
	ip6[2] = ctx->user_ip6[2];
	ip6[3] = ctx->user_ip6[3];
	if (!tsr_is_v4_mapped(ip6))
		return TSR_ALLOW;

	switch (tsr_connect_core(ctx, ip6[3], (__u16)ctx->user_port, &target)) {
	case TSR_REWRITE:
		ctx->user_ip6[3] = target.ip4;
		ctx->user_port = target.port;
		return TSR_ALLOW;
	case TSR_REFUSE:
		return TSR_REJECT;
	default:
		return TSR_ALLOW;
	}
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
