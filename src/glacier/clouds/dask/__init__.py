"""Dask on the pipeline's VMs: a platform of every cloud, as Databricks is, reached over TLS."""
