"""Moved to `betavae_tf.datasets.sources` (the data-source registry); kept so
that `betavae_tf.data_sources.load_data_source` and friends still import."""

from betavae_tf.datasets.sources import (  # noqa: F401
    DATA_SOURCES,
    DSPRITES_FACTORS,
    PreparedData,
    flatten,
    ground_truth_dataset,
    load_data_source,
    parse_source,
)

KINDS = tuple(DATA_SOURCES)
