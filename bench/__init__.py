"""The benchmark: throughput, latency and cost of the download page, as ratios."""
