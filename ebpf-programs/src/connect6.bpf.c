// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cgroup/connect6: the capture for AF_INET6 sockets, two ways.
 * - IPv4-mapped destinations (::ffff:a.b.c.d), which is how Java, Go and others connect to IPv4 peers on
 *   dual-stack sockets (connect4 never sees them): the IPv4 logic and maps, rewritten to ::ffff:<agent>.
 * - Native IPv6 destinations: the same decision over the IPv6 maps (tsr_mesh_cidrs6, tsr_excluded6,
 *   tsr_mesh_dsts6), rewritten to the agent's IPv6 listener (tsr_config6), the original kept in
 *   tsr_orig_dst6. Fail closed like IPv4: an enrolled pod's connect to an IPv6 mesh destination is
 *   refused when no IPv6 listener is configured or no storage is left.
 */
#include "tessera_redirect.h"

SEC("cgroup/connect6")
int tsr_connect6(struct bpf_sock_addr *ctx)
{
	struct tsr_addr4 target = {};
	struct tsr_addr6 target6 = {};
	struct tsr_ip6 dst;
	__u32 ip6[4];

	ip6[0] = ctx->user_ip6[0];
	ip6[1] = ctx->user_ip6[1];
	ip6[2] = ctx->user_ip6[2];
	ip6[3] = ctx->user_ip6[3];
	if (tsr_is_v4_mapped(ip6)) {
		if (ctx->sk)
			bpf_sk_storage_delete(&tsr_orig_dst6, ctx->sk); /* a native record of an earlier connect */
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

	dst.ip6[0] = ip6[0];
	dst.ip6[1] = ip6[1];
	dst.ip6[2] = ip6[2];
	dst.ip6[3] = ip6[3];
	switch (tsr_connect6_core(ctx, &dst, (__u16)ctx->user_port, &target6)) {
	case TSR_REWRITE:
		ctx->user_ip6[0] = target6.ip6[0];
		ctx->user_ip6[1] = target6.ip6[1];
		ctx->user_ip6[2] = target6.ip6[2];
		ctx->user_ip6[3] = target6.ip6[3];
		ctx->user_port = target6.port;
		return TSR_ALLOW;
	case TSR_REFUSE:
		return TSR_REJECT;
	default:
		return TSR_ALLOW;
	}
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
