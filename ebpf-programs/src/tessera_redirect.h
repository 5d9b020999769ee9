/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Tessera outbound capture: every map, every shared struct and the core logic of the redirect programs.
 *
 * The programs (one .bpf.c per hook) are linked into ONE object, redirect.bpf.o, with
 * `bpftool gen object`; the maps below are defined __weak in this header so every hook's object carries
 * the same definition and the linker keeps one copy. The node agent (dev.tessera.agent.redirect
 * .BpfRedirector) loads that object, pins every map under <pin dir>/maps/<map name> and every link under
 * <pin dir>/links/<program name>.
 *
 * Byte order: every IP address and port in these maps is in NETWORK order, exactly as the bytes appear
 * on the wire, so user space writes and reads them as plain byte arrays (a.b.c.d, then port high byte,
 * port low byte). Other integers (cookies, prefix lengths, counters) are in host order.
 *
 * Java mirrors: dev.tessera.agent.redirect.ffi.RedirectStructs; RedirectStructsTest reads the
 * _Static_assert sizes below and checks the Java sizes are equal.
 */
#ifndef TESSERA_REDIRECT_H
#define TESSERA_REDIRECT_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TSR_AF_INET 2
#define TSR_AF_INET6 10
#define TSR_SOCK_STREAM 1
#define TSR_IPPROTO_TCP 6

/* cgroup sock_addr return codes. */
#define TSR_ALLOW 1
#define TSR_REJECT 0 /* connect() fails with EPERM */

/* ---------------------------------------------------------------- shared structs */

/* An IPv4 socket address, both fields in network order. Value of tsr_orig_dst / tsr_client_dst, key of
 * tsr_client_dst (the client's local address), and the redirect target in tsr_config. */
struct tsr_addr4 {
	__u32 ip4;   /* network order */
	__u16 port;  /* network order */
	__u16 pad;   /* zero */
};
_Static_assert(sizeof(struct tsr_addr4) == 8, "struct tsr_addr4 size");

/* Key of the tsr_mesh_cidrs LPM trie. */
struct tsr_lpm_key4 {
	__u32 prefixlen; /* host order, 0-32 */
	__u32 ip4;       /* network order */
};
_Static_assert(sizeof(struct tsr_lpm_key4) == 8, "struct tsr_lpm_key4 size");

/* An IPv6 address, four network-order words (the layout of bpf_sock_addr.user_ip6 and
 * bpf_sock_ops.local_ip6). Key of tsr_excluded6 and tsr_mesh_dsts6. */
struct tsr_ip6 {
	__u32 ip6[4]; /* network order */
};
_Static_assert(sizeof(struct tsr_ip6) == 16, "struct tsr_ip6 size");

/* An IPv6 socket address. Value of tsr_orig_dst6 / tsr_client_dst6, key of tsr_client_dst6 (the client's
 * local address), and the redirect target in tsr_config6. */
struct tsr_addr6 {
	__u32 ip6[4]; /* network order */
	__u16 port;   /* network order */
	__u16 pad;    /* zero */
};
_Static_assert(sizeof(struct tsr_addr6) == 20, "struct tsr_addr6 size");

/* Key of the tsr_mesh_cidrs6 LPM trie. */
struct tsr_lpm_key6 {
	__u32 prefixlen; /* host order, 0-128 */
	__u32 ip6[4];    /* network order */
};
_Static_assert(sizeof(struct tsr_lpm_key6) == 20, "struct tsr_lpm_key6 size");

/* Indexes of tsr_stats (per-CPU __u64 counters; user space sums the CPUs). */
enum tsr_stat {
	TSR_STAT_REDIRECTED = 0,    /* connect rewritten to the agent */
	TSR_STAT_RECORDED = 1,      /* sockops stored the original destination by client address */
	TSR_STAT_STORE_FAILED = 2,  /* no socket storage: connect refused (fail closed) */
	TSR_STAT_RECORD_FAILED = 3, /* tsr_client_dst update failed: the agent will miss it */
	TSR_STAT_NO_CONFIG = 4,     /* enrolled pod connected before the agent wrote tsr_config: refused */
	TSR_STAT_PEERNAME = 5,      /* getpeername answered with the original destination */
	TSR_STAT_REDIRECTED6 = 6,   /* of TSR_STAT_REDIRECTED: native IPv6 connects */
	TSR_STAT_RECORDED6 = 7,     /* of TSR_STAT_RECORDED: native IPv6 connections */
	TSR_STAT_MAX = 8,           /* the pinned map's size: new counters need a new map, not a bigger one */
};

/* ---------------------------------------------------------------- maps */

/*
 * tsr_enrolled  HASH  key: __u64 netns cookie (host order)  value: __u32 1
 *   writer: agent (enroll/unenroll)   readers: connect4, connect6
 *   Sockets whose network namespace is in here are captured.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096); /* the default; the agent sets it from --max-pods before load */
	__type(key, __u64);
	__type(value, __u32);
} tsr_enrolled SEC(".maps") __weak;

/*
 * tsr_mesh_cidrs  LPM_TRIE  key: struct tsr_lpm_key4  value: __u32 1
 *   writer: agent (install, from the IPv4 --mesh-cidr values)   readers: connect4, connect6 (IPv4-mapped)
 *   Only IPv4 destinations inside one of these prefixes are captured (IPv6: tsr_mesh_cidrs6).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tsr_lpm_key4);
	__type(value, __u32);
} tsr_mesh_cidrs SEC(".maps") __weak;

/*
 * tsr_excluded  HASH  key: __u32 IPv4 address (network order)  value: __u32 1
 *   writer: agent (install: the node's own addresses)   readers: connect4, connect6
 *   Destinations never captured (besides 127.0.0.0/8 and the redirect target itself).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} tsr_excluded SEC(".maps") __weak;

/*
 * tsr_mesh_dsts  HASH  key: __u32 IPv4 address (network order)  value: __u32 1
 *   writer: agent (every meshed workload's address and every Service VIP, from the controller's state)
 *   readers: connect4, connect6
 *   Once it holds the key 0 (0.0.0.0, written after the first complete set), a destination inside the
 *   mesh CIDRs is captured only when it is in here: a connection to anything else (a non-meshed pod, a
 *   node, the controller, a host outside the cluster) leaves from the pod's own namespace with the pod's
 *   address, exactly as an opted-out pod's would. Without key 0 (an agent that has not synced yet, or a
 *   set that did not fit) the mesh CIDRs alone decide, as before.
 *   Key 0 covers BOTH families: the agent writes it after it wrote this map and tsr_mesh_dsts6, and
 *   deletes it before it empties either, so one marker says both sets are authoritative (connect6 reads
 *   it for native IPv6 destinations too).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u32);
} tsr_mesh_dsts SEC(".maps") __weak;

/*
 * tsr_config  ARRAY[1]  key: __u32 0  value: struct tsr_addr4 (the agent's outbound listener)
 *   writer: agent (install, refreshed on re-adopt)   readers: connect4, connect6
 *   ip4 == 0 means "not configured": enrolled connects are refused (fail closed).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tsr_addr4);
} tsr_config SEC(".maps") __weak;

/*
 * tsr_probe  ARRAY[1]  key: __u32 0  value: struct tsr_probe
 *   writer: agent (the kubelet's cgroup v2 id, resolved from its --cgroup mount; re-resolved when the
 *   kubelet's cgroup is recreated)   reader: connect4, connect6 (which count in .marked)
 *   A TCP connect from a process of that cgroup (bpf_get_current_cgroup_id: the id in the global
 *   hierarchy, whatever cgroup namespace the agent runs in) to an address in the mesh CIDRs (tsr_mesh_cidrs,
 *   or tsr_mesh_cidrs6 for a native IPv6 address: the kernel marks both, the SNAT below is IPv4 only) gets the
 *   socket mark .mark; the node's nat POSTROUTING SNATs marked packets to the link-local probe address,
 *   which STRICT and plaintext policy trust instead of the node address (ProbeSnat.java).
 *   cgroup_id == 0: no kubelet cgroup known, nothing is marked.
 */
struct tsr_probe {
	__u64 cgroup_id;
	__u64 marked;
	__u32 mark;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tsr_probe);
} tsr_probe SEC(".maps") __weak;

/*
 * tsr_orig_dst  SK_STORAGE  key: socket  value: struct tsr_addr4 (the destination the app asked for)
 *   writer: connect4, connect6 (IPv4-mapped)   readers: sockops, getpeername4, getpeername6
 *   Lives and dies with the socket.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tsr_addr4);
} tsr_orig_dst SEC(".maps") __weak;

/*
 * tsr_client_dst  LRU_HASH  key: struct tsr_addr4 (client's local ip, port)  value: struct tsr_addr4
 *   (original destination)
 *   writer: sockops (ACTIVE_ESTABLISHED, before the agent can accept)   reader+deleter: agent (take)
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tsr_addr4);
	__type(value, struct tsr_addr4);
} tsr_client_dst SEC(".maps") __weak;

/*
 * tsr_stats  PERCPU_ARRAY[TSR_STAT_MAX]  key: __u32 enum tsr_stat  value: __u64 count per CPU
 *   writers: every program   reader: agent (stats)
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TSR_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} tsr_stats SEC(".maps") __weak;

/* ---------------------------------------------------------------- IPv6 maps (native IPv6 capture)
 *
 * The counterparts of the maps above for native IPv6 destinations (connect6, getpeername6, sockops).
 * IPv4-mapped destinations (::ffff:a.b.c.d) keep using the IPv4 maps. Every map here starts empty, which
 * captures no native IPv6 destination at all: an agent without IPv6 mesh CIDRs changes nothing for IPv6.
 */

/*
 * tsr_mesh_cidrs6  LPM_TRIE  key: struct tsr_lpm_key6  value: __u32 1
 *   writer: agent (install, from the IPv6 --mesh-cidr values)   readers: connect6
 *   Only native IPv6 destinations inside one of these prefixes are captured (none when empty).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tsr_lpm_key6);
	__type(value, __u32);
} tsr_mesh_cidrs6 SEC(".maps") __weak;

/*
 * tsr_excluded6  HASH  key: struct tsr_ip6  value: __u32 1
 *   writer: agent (install: the node's own IPv6 addresses)   readers: connect6
 *   Native IPv6 destinations never captured (besides ::, ::1, fe80::/10 and the redirect target itself).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct tsr_ip6);
	__type(value, __u32);
} tsr_excluded6 SEC(".maps") __weak;

/*
 * tsr_mesh_dsts6  HASH  key: struct tsr_ip6  value: __u32 1
 *   writer: agent (every meshed workload's IPv6 address and every IPv6 Service VIP)   readers: connect6
 *   The IPv6 half of tsr_mesh_dsts; its "complete" marker is tsr_mesh_dsts' key 0 (see there).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tsr_ip6);
	__type(value, __u32);
} tsr_mesh_dsts6 SEC(".maps") __weak;

/*
 * tsr_config6  ARRAY[1]  key: __u32 0  value: struct tsr_addr6 (the agent's IPv6 outbound listener)
 *   writer: agent (install, refreshed on re-adopt; --node-ip6)   readers: connect6
 *   An all-zero address means "not configured": an enrolled pod's native IPv6 connect to an IPv6 mesh
 *   destination is refused (fail closed, as tsr_config for IPv4). Other native IPv6 connects are unaffected.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tsr_addr6);
} tsr_config6 SEC(".maps") __weak;

/*
 * tsr_orig_dst6  SK_STORAGE  key: socket  value: struct tsr_addr6 (the IPv6 destination the app asked for)
 *   writer: connect6 (native IPv6 destinations)   readers: sockops, getpeername6
 *   Lives and dies with the socket. A socket holds at most one of tsr_orig_dst and tsr_orig_dst6: connect6
 *   deletes the other family's record when it decides (a socket may connect again after a failure).
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tsr_addr6);
} tsr_orig_dst6 SEC(".maps") __weak;

/*
 * tsr_client_dst6  LRU_HASH  key: struct tsr_addr6 (client's local IPv6 ip, port)  value: struct tsr_addr6
 *   (original destination)
 *   writer: sockops (ACTIVE_ESTABLISHED of a native IPv6 socket)   reader+deleter: agent (take)
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tsr_addr6);
	__type(value, struct tsr_addr6);
} tsr_client_dst6 SEC(".maps") __weak;

/* ---------------------------------------------------------------- core logic */

static __always_inline void tsr_count(__u32 stat)
{
	__u64 *n = bpf_map_lookup_elem(&tsr_stats, &stat);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* Whether dst_ip (network order) is a meshed destination: in tsr_mesh_dsts, or no authoritative set yet. */
static __always_inline int tsr_is_mesh_dst(__u32 dst_ip)
{
	__u32 complete = 0;

	if (!bpf_map_lookup_elem(&tsr_mesh_dsts, &complete))
		return 1;
	return bpf_map_lookup_elem(&tsr_mesh_dsts, &dst_ip) != 0;
}

#define TSR_SOL_SOCKET 1
#define TSR_SO_MARK 36

/* Marks a TCP connect of the kubelet's cgroup to the mesh CIDRs for the probe SNAT (see tsr_probe). */
static __always_inline void tsr_mark_probe(struct bpf_sock_addr *ctx, __u32 dst_ip)
{
	__u32 zero = 0;
	struct tsr_probe *probe = bpf_map_lookup_elem(&tsr_probe, &zero);
	struct tsr_lpm_key4 lpm = { .prefixlen = 32, .ip4 = dst_ip };
	int mark;

	if (!probe || probe->cgroup_id == 0 || bpf_get_current_cgroup_id() != probe->cgroup_id)
		return;
	if (!bpf_map_lookup_elem(&tsr_mesh_cidrs, &lpm))
		return;
	mark = (int)probe->mark;
	if (bpf_setsockopt(ctx, TSR_SOL_SOCKET, TSR_SO_MARK, &mark, sizeof(mark)) == 0)
		__sync_fetch_and_add(&probe->marked, 1);
}

/* Result of tsr_connect_core. */
#define TSR_DIRECT 0   /* leave the connect alone */
#define TSR_REWRITE 1  /* *target holds the new destination */
#define TSR_REFUSE 2   /* reject the connect (fail closed) */

/*
 * The capture decision for a TCP connect to dst_ip:dst_port (both network order) on socket ctx->sk.
 * Records the original destination in the socket's storage when it decides to rewrite, and drops a
 * stale record when it does not (a socket may connect again after a failed attempt).
 */
static __always_inline int tsr_connect_core(struct bpf_sock_addr *ctx, __u32 dst_ip, __u16 dst_port,
					    struct tsr_addr4 *target)
{
	struct bpf_sock *sk = ctx->sk;
	__u64 cookie;
	__u32 zero = 0;
	struct tsr_addr4 *cfg, *orig;
	struct tsr_lpm_key4 lpm = { .prefixlen = 32, .ip4 = dst_ip };

	if (ctx->type != TSR_SOCK_STREAM || ctx->protocol != TSR_IPPROTO_TCP || !sk)
		return TSR_DIRECT;
	tsr_mark_probe(ctx, dst_ip);
	cookie = bpf_get_netns_cookie(ctx);
	if (!bpf_map_lookup_elem(&tsr_enrolled, &cookie))
		return TSR_DIRECT;

	cfg = bpf_map_lookup_elem(&tsr_config, &zero);
	if (!cfg || cfg->ip4 == 0) {
		tsr_count(TSR_STAT_NO_CONFIG);
		return TSR_REFUSE;
	}
	/* Never captured: 0.0.0.0 and loopback (this namespace), link-local (169.254.0.0/16: cloud metadata,
	 * node-local DNS caches; captured it would be dialled from the node, with the node's credentials),
	 * the agent itself, the node's own addresses, anything outside the mesh CIDRs, and, once the agent
	 * has written its set, anything that is not a meshed workload or a Service VIP. */
	if (dst_ip == 0 || (bpf_ntohl(dst_ip) >> 24) == 127 || (bpf_ntohl(dst_ip) >> 16) == 0xa9fe ||
	    dst_ip == cfg->ip4 || bpf_map_lookup_elem(&tsr_excluded, &dst_ip) ||
	    !bpf_map_lookup_elem(&tsr_mesh_cidrs, &lpm) || !tsr_is_mesh_dst(dst_ip)) {
		bpf_sk_storage_delete(&tsr_orig_dst, sk);
		return TSR_DIRECT;
	}

	orig = bpf_sk_storage_get(&tsr_orig_dst, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!orig) {
		tsr_count(TSR_STAT_STORE_FAILED);
		return TSR_REFUSE;
	}
	orig->ip4 = dst_ip;
	orig->port = dst_port;
	orig->pad = 0;
	target->ip4 = cfg->ip4;
	target->port = cfg->port;
	tsr_count(TSR_STAT_REDIRECTED);
	return TSR_REWRITE;
}

/* The original destination recorded for this socket, or NULL. */
static __always_inline struct tsr_addr4 *tsr_orig_of(struct bpf_sock *sk)
{
	if (!sk)
		return 0;
	return bpf_sk_storage_get(&tsr_orig_dst, sk, 0, 0);
}

/* The high 96 bits of an IPv4-mapped IPv6 address ::ffff:a.b.c.d, as user_ip6[0..2] hold them. */
static __always_inline int tsr_is_v4_mapped(const __u32 *ip6)
{
	return ip6[0] == 0 && ip6[1] == 0 && ip6[2] == bpf_htonl(0x0000ffff);
}

/* ---------------------------------------------------------------- core logic, native IPv6 */

static __always_inline int tsr_ip6_eq(const __u32 *a, const __u32 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/* ::, ::1 and fe80::/10 (link-local): never captured, whatever the maps say. */
static __always_inline int tsr_ip6_special(const __u32 *ip6)
{
	if (ip6[0] == 0 && ip6[1] == 0 && ip6[2] == 0 && (ip6[3] == 0 || ip6[3] == bpf_htonl(1)))
		return 1;
	return (bpf_ntohl(ip6[0]) & 0xffc00000) == 0xfe800000;
}

/* tsr_is_mesh_dst for a native IPv6 destination (the marker is tsr_mesh_dsts' key 0, shared). */
static __always_inline int tsr_is_mesh_dst6(const struct tsr_ip6 *dst)
{
	__u32 complete = 0;

	if (!bpf_map_lookup_elem(&tsr_mesh_dsts, &complete))
		return 1;
	return bpf_map_lookup_elem(&tsr_mesh_dsts6, dst) != 0;
}

/* tsr_mark_probe for a native IPv6 destination: marked when it is inside the IPv6 mesh CIDRs. */
static __always_inline void tsr_mark_probe6(struct bpf_sock_addr *ctx, const struct tsr_ip6 *dst)
{
	__u32 zero = 0;
	struct tsr_probe *probe = bpf_map_lookup_elem(&tsr_probe, &zero);
	struct tsr_lpm_key6 lpm = { .prefixlen = 128 };
	int mark;

	if (!probe || probe->cgroup_id == 0 || bpf_get_current_cgroup_id() != probe->cgroup_id)
		return;
	lpm.ip6[0] = dst->ip6[0];
	lpm.ip6[1] = dst->ip6[1];
	lpm.ip6[2] = dst->ip6[2];
	lpm.ip6[3] = dst->ip6[3];
	if (!bpf_map_lookup_elem(&tsr_mesh_cidrs6, &lpm))
		return;
	mark = (int)probe->mark;
	if (bpf_setsockopt(ctx, TSR_SOL_SOCKET, TSR_SO_MARK, &mark, sizeof(mark)) == 0)
		__sync_fetch_and_add(&probe->marked, 1);
}

/*
 * tsr_connect_core for a native IPv6 destination dst:dst_port (network order). The order differs from
 * IPv4 on purpose: the destination is judged BEFORE the configuration, so an agent without an IPv6
 * listener refuses only connects it would have captured (an IPv6 mesh destination), never a pod's other
 * IPv6 traffic; with no IPv6 mesh CIDR nothing is captured or refused.
 */
static __always_inline int tsr_connect6_core(struct bpf_sock_addr *ctx, const struct tsr_ip6 *dst,
					     __u16 dst_port, struct tsr_addr6 *target)
{
	struct bpf_sock *sk = ctx->sk;
	__u64 cookie;
	__u32 zero = 0;
	struct tsr_addr6 *cfg, *orig;
	struct tsr_lpm_key6 lpm = { .prefixlen = 128 };

	if (ctx->type != TSR_SOCK_STREAM || ctx->protocol != TSR_IPPROTO_TCP || !sk)
		return TSR_DIRECT;
	tsr_mark_probe6(ctx, dst);
	cookie = bpf_get_netns_cookie(ctx);
	if (!bpf_map_lookup_elem(&tsr_enrolled, &cookie))
		return TSR_DIRECT;

	bpf_sk_storage_delete(&tsr_orig_dst, sk); /* an IPv4-mapped record of an earlier connect */
	lpm.ip6[0] = dst->ip6[0];
	lpm.ip6[1] = dst->ip6[1];
	lpm.ip6[2] = dst->ip6[2];
	lpm.ip6[3] = dst->ip6[3];
	/* Never captured: ::, ::1 (this namespace), fe80::/10 (link-local), the node's own addresses,
	 * anything outside the IPv6 mesh CIDRs, and, once the agent has written its sets, anything that is
	 * not a meshed workload or a Service VIP. */
	if (tsr_ip6_special(dst->ip6) || bpf_map_lookup_elem(&tsr_excluded6, dst) ||
	    !bpf_map_lookup_elem(&tsr_mesh_cidrs6, &lpm) || !tsr_is_mesh_dst6(dst)) {
		bpf_sk_storage_delete(&tsr_orig_dst6, sk);
		return TSR_DIRECT;
	}
	cfg = bpf_map_lookup_elem(&tsr_config6, &zero);
	if (!cfg || (cfg->ip6[0] | cfg->ip6[1] | cfg->ip6[2] | cfg->ip6[3]) == 0) {
		tsr_count(TSR_STAT_NO_CONFIG);
		return TSR_REFUSE;
	}
	if (tsr_ip6_eq(dst->ip6, cfg->ip6)) { /* the agent itself */
		bpf_sk_storage_delete(&tsr_orig_dst6, sk);
		return TSR_DIRECT;
	}

	orig = bpf_sk_storage_get(&tsr_orig_dst6, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!orig) {
		tsr_count(TSR_STAT_STORE_FAILED);
		return TSR_REFUSE;
	}
	orig->ip6[0] = dst->ip6[0];
	orig->ip6[1] = dst->ip6[1];
	orig->ip6[2] = dst->ip6[2];
	orig->ip6[3] = dst->ip6[3];
	orig->port = dst_port;
	orig->pad = 0;
	target->ip6[0] = cfg->ip6[0];
	target->ip6[1] = cfg->ip6[1];
	target->ip6[2] = cfg->ip6[2];
	target->ip6[3] = cfg->ip6[3];
	target->port = cfg->port;
	tsr_count(TSR_STAT_REDIRECTED);
	tsr_count(TSR_STAT_REDIRECTED6);
	return TSR_REWRITE;
}

/* The native IPv6 original destination recorded for this socket, or NULL. */
static __always_inline struct tsr_addr6 *tsr_orig6_of(struct bpf_sock *sk)
{
	if (!sk)
		return 0;
	return bpf_sk_storage_get(&tsr_orig_dst6, sk, 0, 0);
}

#endif /* TESSERA_REDIRECT_H */
