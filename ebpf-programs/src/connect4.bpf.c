// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cgroup/connect4: sends enrolled pods' TCP connects inside the mesh CIDRs to the node agent. */
#include "tessera_redirect.h"

SEC("cgroup/connect4")
int tsr_connect4(struct bpf_sock_addr *ctx)
{
	struct tsr_addr4 target = {};

	switch (tsr_connect_core(ctx, ctx->user_ip4, (__u16)ctx->user_port, &target)) {
	case TSR_REWRITE:
		ctx->user_ip4 = target.ip4;
		ctx->user_port = target.port;
		return TSR_ALLOW;
	case TSR_REFUSE:
		return TSR_REJECT;
	default:
		return TSR_ALLOW;
	}
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
