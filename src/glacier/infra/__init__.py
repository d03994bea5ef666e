"""Infrastructure from pipeline code: a cloud-neutral inventory, Terraform and packages."""
