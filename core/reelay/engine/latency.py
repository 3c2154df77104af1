"""Latency histograms for the hottest paths, kept as plain counts and exported at scrape time.

prometheus_client's labelled children take a lock on every observation and
re-check their state (about 0.7 us a histogram observation, 0.3 us a counter
increment, measured here). Every status read makes two of them (its request
and its store read), which cost status reads about a tenth of their rate in
``bench/run.py --cases metrics``. The gateway observes from its one
event-loop thread, so these series need no lock: an observation is a bisect
and two additions. :class:`LatencyFamily` is exported through
prometheus_client's own custom-collector API (``collect`` yielding metric
families), so the text exposition is still written by the package.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

#: A recorder: ``record(seconds)`` adds one observation to its series.
Recorder = Callable[[float], None]


class LatencyFamily:
    """One histogram family (``name``, in seconds) by ``labels``, optionally with a counter beside it.

    ``counter`` (a name) exports the observations' count by ``labels +
    counter_labels`` as a counter family too (requests by route *and* status
    beside the latency by route), so one observation feeds both.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        labels: tuple[str, ...],
        buckets: tuple[float, ...],
        counter: tuple[str, str, tuple[str, ...]] | None = None,
    ):
        self.name, self.documentation, self.labels = name, documentation, labels
        self.bounds = tuple(sorted(buckets))
        self.counter = counter
        # {label values (histogram's, then the counter's extra ones): [sum, count per bucket..., count above]}
        self._series: dict[tuple[str, ...], list[float]] = {}

    def recorder(self, *values: str) -> Recorder:
        """A function adding one observation (seconds) to the series of these label values."""
        series = self._series.get(values)
        if series is None:
            series = self._series[values] = [0.0] * (len(self.bounds) + 2)
        bounds = self.bounds

        def record(seconds: float) -> None:
            series[0] += seconds
            # Prometheus buckets count observations <= their bound: bisect_left finds that bucket.
            series[bisect_left(bounds, seconds) + 1] += 1

        return record

    def collect(self) -> Iterator[Metric]:
        """The families for prometheus_client's registry (a custom collector)."""
        width = len(self.labels)
        merged: dict[tuple[str, ...], list[float]] = {}
        counts: dict[tuple[str, ...], float] = {}
        for values, series in list(self._series.items()):
            into = merged.setdefault(values[:width], [0.0] * len(series))
            for index, value in enumerate(series):
                into[index] += value
            counts[values] = sum(series[1:])
        histogram = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        for values, series in merged.items():
            cumulative, buckets = 0.0, []
            for bound, count in zip((*self.bounds, float("inf")), series[1:], strict=True):
                cumulative += count
                buckets.append((floatToGoString(bound), cumulative))
            histogram.add_metric(list(values), buckets, series[0])
        yield histogram
        if self.counter is not None:
            name, documentation, extra = self.counter
            counter = CounterMetricFamily(name, documentation, labels=(*self.labels, *extra))
            for values, count in counts.items():
                counter.add_metric(list(values), count)
            yield counter

    def describe(self) -> Iterator[Metric]:
        """The families' names without samples (what the registry checks for duplicates)."""
        yield HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        if self.counter is not None:
            name, documentation, extra = self.counter
            yield CounterMetricFamily(name, documentation, labels=(*self.labels, *extra))
