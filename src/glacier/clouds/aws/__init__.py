"""Amazon Web Services: S3, Lambda, EC2, EMR Serverless (and Databricks on AWS)."""
