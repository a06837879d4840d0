/* The switch's counters: one packets-and-bytes cell per VXG_CNT_* id, the
 * same ids the eBPF program counts under. */
#ifndef VXG_COUNTERS_P4
#define VXG_COUNTERS_P4

@name(".counters") counter(VXG_CNT__MAX, CounterType.packets_and_bytes) vxg_counters;

#endif
