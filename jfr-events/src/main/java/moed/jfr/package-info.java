/**
 * The profiling vocabulary of moed: JFR event types under {@code moed.*} (router decisions, expert accesses,
 * loads, prefetches, evictions, token steps, requests, cache gauges) and the packing helpers their readers use.
 * Events record no stack traces; hot events pack arrays into longs so that emitting one allocates nothing.
 */
package moed.jfr;
