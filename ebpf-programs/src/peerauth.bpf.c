/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cgroup_skb/ingress, attached with a bpf_link to the cgroup v2 root like the redirect programs: it sees
 * every IPv4 packet delivered to a socket of any process. A TCP connection attempt (SYN without ACK) to a
 * pod in tsp_pods whose source is neither the pod's node (the node agent's deliveries after mTLS, and
 * kubelet-style probes, both come from the node IP) nor the pod itself is plaintext from outside the
 * mesh: dropped when the pod is STRICT, counted and passed when PERMISSIVE. Established connections and
 * every other packet pass (the pod's own outbound connections are never affected).
 * Fail mode: open for pods not in the map (no entry, no enforcement); closed for STRICT pods even while
 * the agent is down (the pinned link and map stay).
 */
#include "tessera_peerauth.h"

#define TSP_ETH_P_IP 0x0800
#define TSP_IPPROTO_TCP 6
#define TSP_TCP_FLAG_SYN 0x02
#define TSP_TCP_FLAG_ACK 0x10

struct tsp_ip4 {
	__u8 ver_ihl;
	__u8 tos;
	__u16 tot_len;
	__u16 id;
	__u16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__u16 check;
	__u32 saddr;
	__u32 daddr;
};

static __always_inline int tsp_check(struct __sk_buff *skb)
{
	struct tsp_ip4 ip;
	__u8 flags;

	if (skb->protocol != bpf_htons(TSP_ETH_P_IP))
		return TSP_PASS;
	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0 || ip.protocol != TSP_IPPROTO_TCP)
		return TSP_PASS;
	struct tsp_pod *pod = bpf_map_lookup_elem(&tsp_pods, &ip.daddr);
	if (!pod)
		return TSP_PASS;
	__u32 off = ((__u32)(ip.ver_ihl & 0x0f)) * 4 + 13; /* TCP flags byte */
	if (bpf_skb_load_bytes(skb, off, &flags, 1) < 0)
		return TSP_PASS;
	if (!(flags & TSP_TCP_FLAG_SYN) || (flags & TSP_TCP_FLAG_ACK))
		return TSP_PASS;
	if (ip.saddr == pod->node_ip || ip.saddr == ip.daddr) {
		__sync_fetch_and_add(&pod->mesh, 1);
		return TSP_PASS;
	}
	if (pod->mode == TSP_MODE_STRICT) {
		__sync_fetch_and_add(&pod->dropped, 1);
		return TSP_DROP;
	}
	__sync_fetch_and_add(&pod->plaintext, 1);
	return TSP_PASS;
}

SEC("cgroup_skb/ingress")
int tsp_ingress(struct __sk_buff *skb)
{
	return tsp_check(skb);
}

char _license[] SEC("license") = "Dual BSD/GPL";
