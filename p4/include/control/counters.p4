/* The switch's counters: one packets-and-bytes cell per VXG_CNT_* id, the
 * same ids the eBPF program counts under. */
#ifndef VXG_COUNTERS_P4
#define VXG_COUNTERS_P4

@name(".counters") counter(VXG_CNT__MAX, CounterType.packets_and_bytes) vxg_counters;

#if VXG_FEATURE_MIRROR
/* each mirror session's counters: cell slot * VXG_MIRROR_STAT_CELLS + VXG_MIRROR_STAT_* */
@name(".mirror_stats") counter(VXG_SIZE_MIRROR_STATS * VXG_MIRROR_STAT_CELLS, CounterType.packets_and_bytes) mirror_stats;

action mirror_count(in bit<16> slot, in bit<32> stat) {
	mirror_stats.count((bit<32>) slot * VXG_MIRROR_STAT_CELLS + stat);
}
#endif

#endif
