"""Google Cloud: GCS, Cloud Functions (2nd gen), Compute Engine, Dataproc, Databricks on GCP."""
