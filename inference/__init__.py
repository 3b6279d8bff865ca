"""Inference: the pipeline, batch prediction (`dangtopic predict`) and its engines.

`BatchPredictor` maps tables of articles to tables of results, for Ray Data, Spark or pandas jobs.
"""

from dangtopic.inference.batch import BatchPredictor

__all__ = ["BatchPredictor"]
