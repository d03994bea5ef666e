"""Microsoft Azure: Blob Storage, Functions (Flex Consumption), Linux VMs, Databricks."""
