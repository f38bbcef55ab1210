"""The daemon's Prometheus metrics, on a registry the daemon owns (never the global one).

One `DaemonMetrics` is built per daemon by `harvestd.wiring`, so tests can build several
side by side. The supervisor in `harvestd.daemon` counts job runs, failures and
durations; the server refreshes the store-derived gauges (indexed block, lag, proposals
by status) on each scrape; the executor's job reports trades through its `JobContext`.

    harvestd_job_runs_total{job}                  every finished run, failed or not
    harvestd_job_failures_total{job}              runs that raised
    harvestd_job_duration_seconds{job}            histogram of run durations
    harvestd_job_last_success_timestamp_seconds{job}
    harvestd_indexed_block{chain_id}              last block booked (the checkpoint)
    harvestd_head_block{chain_id}                 the chain head the indexer last saw
    harvestd_index_lag_blocks{chain_id}           head - indexed
    harvestd_proposals{status}                    proposals in the store by status
    harvestd_trades_sent_total{chain_id}
    harvestd_trades_refused_total{chain_id,reason}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["METRICS_CONTENT_TYPE", "DaemonMetrics"]

METRICS_CONTENT_TYPE: Final[str] = CONTENT_TYPE_LATEST
"""The Content-Type of the Prometheus text exposition format."""

_DURATION_BUCKETS: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class DaemonMetrics:
    """Every metric the daemon exports, registered on `self.registry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.job_runs = Counter(
            "harvestd_job_runs", "Job runs finished (failed or not).", ["job"], registry=registry
        )
        self.job_failures = Counter(
            "harvestd_job_failures", "Job runs that raised.", ["job"], registry=registry
        )
        self.job_duration = Histogram(
            "harvestd_job_duration_seconds",
            "Wall time of one job run.",
            ["job"],
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self.job_last_success = Gauge(
            "harvestd_job_last_success_timestamp_seconds",
            "Unix time of the job's last successful run.",
            ["job"],
            registry=registry,
        )
        self.indexed_block = Gauge(
            "harvestd_indexed_block", "Last block booked.", ["chain_id"], registry=registry
        )
        self.head_block = Gauge(
            "harvestd_head_block", "Chain head last seen.", ["chain_id"], registry=registry
        )
        self.index_lag = Gauge(
            "harvestd_index_lag_blocks",
            "Blocks between the head and the last block booked.",
            ["chain_id"],
            registry=registry,
        )
        self.proposals = Gauge(
            "harvestd_proposals", "Proposals in the store by status.", ["status"], registry=registry
        )
        self.trades_sent = Counter(
            "harvestd_trades_sent", "Trades signed and sent.", ["chain_id"], registry=registry
        )
        self.trades_refused = Counter(
            "harvestd_trades_refused",
            "Trades a guard refused before signing.",
            ["chain_id", "reason"],
            registry=registry,
        )

    def set_chain_progress(
        self, chain_id: int, indexed_block: int | None, head_block: int | None
    ) -> None:
        """Set the indexed-block, head and lag gauges of one chain (unknowns left out)."""
        label = str(chain_id)
        if indexed_block is not None:
            self.indexed_block.labels(chain_id=label).set(indexed_block)
        if head_block is not None:
            self.head_block.labels(chain_id=label).set(head_block)
        if indexed_block is not None and head_block is not None:
            self.index_lag.labels(chain_id=label).set(max(0, head_block - indexed_block))

    def set_proposal_counts(self, counts: Mapping[str, int]) -> None:
        """Set the proposals-by-status gauge; statuses not in `counts` drop to zero."""
        for status in {*counts, *self._known_statuses()}:
            self.proposals.labels(status=status).set(counts.get(status, 0))

    def _known_statuses(self) -> set[str]:
        return {
            sample.labels["status"]
            for metric in self.proposals.collect()
            for sample in metric.samples
            if "status" in sample.labels
        }

    def record_trades(
        self, chain_id: int, *, sent: int = 0, refused: Mapping[str, int] | None = None
    ) -> None:
        """Count trades sent, and trades refused by guard reason, on a chain."""
        label = str(chain_id)
        if sent:
            self.trades_sent.labels(chain_id=label).inc(sent)
        for reason, count in (refused or {}).items():
            if count:
                self.trades_refused.labels(chain_id=label, reason=reason).inc(count)

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)
