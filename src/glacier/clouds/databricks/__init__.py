"""Databricks: Spark clusters in a workspace on any of the clouds.

A platform rather than a cloud: it has configs, Terraform helpers that each cloud's renderer
calls with its own identity attributes, and the Spark session ``glacier.spark`` gets for it
(databricks-connect), but no object store, URI scheme or provider config.
"""
